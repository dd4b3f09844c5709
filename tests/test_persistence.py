"""Tests for model folders (Orbax params + JSON metadata) and the JSON weight export."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import uuid

import ml_dtypes
import numpy as np
import pytest

import jaxlstm
from jaxlstm._src.io import persistence as P


def _lstm_params(seed: int = 0, n_layers: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    layers = []
    n_in = 1
    for _ in range(n_layers):
        layers.append(
            {
                "w": rng.standard_normal((n_in + 32, 128)).astype(np.float32),
                "b": rng.standard_normal(128).astype(np.float32),
            }
        )
        n_in = 32
    return {
        "layers": layers,
        "head": {"w": rng.standard_normal((32, 1)).astype(np.float32), "b": np.zeros(1, np.float32)},
    }


def _nested_params() -> dict:
    params = _lstm_params(seed=1, n_layers=2)
    params["scaler"] = {"min": np.float32(3.25), "max": np.array(1234.5), "count": np.int64(2**40 + 1)}
    params["extra"] = (np.array([True, False]), np.arange(6, dtype=np.int32).reshape(2, 3))
    params["half"] = {"bf16": np.linspace(-3, 3, 7).astype(ml_dtypes.bfloat16), "f16": np.float16([0.1, 65504.0])}
    return params


def _assert_identical(got, want, where: str = "") -> None:
    """Same containers, keys, shapes, dtypes and bytes."""
    if isinstance(want, (dict, list, tuple)):
        assert type(got) is type(want), where
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _assert_identical(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_identical(g, w, f"{where}/{i}")
    else:
        want = np.asarray(want)
        assert isinstance(got, np.ndarray), where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert got.tobytes() == want.tobytes(), where


def _model_files(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _biggest_params_file(model: pathlib.Path) -> pathlib.Path:
    files = [p for p in (model / P.PARAMS_DIR).rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size)


def _loadable_entries(parent: pathlib.Path) -> list[str]:
    names = []
    for entry in parent.iterdir():
        try:
            P.load_model(entry)
        except (ValueError, FileNotFoundError):
            continue
        names.append(entry.name)
    return sorted(names)


# --------------------------------------------------------------------------- round trips


def test_round_trip_float32_bit_exact(tmp_path):
    params = _lstm_params()
    out = P.save_model(tmp_path / "model", params, {"symbol": "ABC", "metrics": {"rmse": np.float32(0.25)}})
    assert out == tmp_path / "model"
    assert sorted(p.name for p in out.iterdir()) == [P.METADATA_FILE, P.PARAMS_DIR]

    loaded, meta = P.load_model(out)
    _assert_identical(loaded, params)
    assert meta["symbol"] == "ABC" and meta["metrics"] == {"rmse": 0.25}
    assert meta["format_version"] == P.FORMAT_VERSION
    assert meta["library"] == "jaxlstm" and meta["library_version"] == jaxlstm.__version__
    assert meta["params_sha256"] == P.leaf_checksums(params)
    assert meta["params_structure"]["children"]["layers"]["children"][0]["children"]["w"] == {
        "kind": "array",
        "shape": [33, 128],
        "dtype": "float32",
    }


def test_round_trip_nested_structure(tmp_path):
    params = _nested_params()
    P.save_model(tmp_path / "m", params, {})
    loaded, _ = P.load_model(str(tmp_path / "m"))
    _assert_identical(loaded, params)
    assert isinstance(loaded["layers"], list) and isinstance(loaded["extra"], tuple)
    assert loaded["scaler"]["count"].item() == 2**40 + 1


def test_metadata_file_is_sorted_pretty_json(tmp_path):
    P.save_model(tmp_path / "m", _lstm_params(), {"zeta": 1, "alpha": {"b": 2, "a": 1}})
    text = (tmp_path / "m" / P.METADATA_FILE).read_text()
    obj = json.loads(text)
    assert text == json.dumps(obj, sort_keys=True, indent=2) + "\n"


def test_loaded_metadata_can_be_saved_again(tmp_path):
    params = _lstm_params()
    P.save_model(tmp_path / "m", params, {"format_version": 7, "note": "x"})
    _, meta = P.load_model(tmp_path / "m")
    assert meta["format_version"] == P.FORMAT_VERSION  # reserved keys are recomputed
    P.save_model(tmp_path / "m", params, meta)
    _, again = P.load_model(tmp_path / "m")
    assert again == meta


def test_round_trip_in_new_process(tmp_path):
    params = _nested_params()
    P.save_model(tmp_path / "m", params, {})
    want = {path: hashlib.sha256(np.asarray(leaf).tobytes()).hexdigest() for path, leaf in P._iter_leaves(params)}
    code = (
        "import hashlib, json, sys\n"
        "from jaxlstm._src.io.persistence import load_model, _iter_leaves\n"
        "params, _ = load_model(sys.argv[1])\n"
        "print(json.dumps({p: hashlib.sha256(a.tobytes()).hexdigest() for p, a in _iter_leaves(params)}))\n"
    )
    root = str(pathlib.Path(jaxlstm.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]), JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == want


# --------------------------------------------------------------------------- atomic replacement


def test_overwrite_replaces_model_and_leaves_no_siblings(tmp_path):
    target = tmp_path / "m"
    P.save_model(target, _lstm_params(seed=0), {"run": 1})
    P.save_model(target, _lstm_params(seed=1, n_layers=2), {"run": 2})
    loaded, meta = P.load_model(target)
    _assert_identical(loaded, _lstm_params(seed=1, n_layers=2))
    assert meta["run"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def _fail(*_args, **_kwargs):
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize("seam", ["_save_params_orbax", "_write_file_synced", "_fsync_tree", "rename_into_place"])
def test_failed_save_keeps_previous_model(tmp_path, monkeypatch, seam):
    target = tmp_path / "m"
    old = _lstm_params(seed=0)
    P.save_model(target, old, {"run": 1})
    before = _model_files(target)

    if seam == "rename_into_place":
        real_rename = os.rename

        def rename(src, dst):
            if P._TMP_INFIX in pathlib.Path(src).name:
                raise OSError("simulated rename failure")
            return real_rename(src, dst)

        monkeypatch.setattr(P.os, "rename", rename)
        expected_error = OSError
    else:
        monkeypatch.setattr(P, seam, _fail)
        expected_error = RuntimeError
    with pytest.raises(expected_error, match="simulated"):
        P.save_model(target, _lstm_params(seed=5), {"run": 2})
    monkeypatch.undo()

    assert _model_files(target) == before
    loaded, meta = P.load_model(target)
    _assert_identical(loaded, old)
    assert meta["run"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_interrupted_swap_falls_back_to_backup_and_next_save_cleans_up(tmp_path):
    target = tmp_path / "m"
    old = _lstm_params(seed=0)
    P.save_model(target, old, {"run": 1})
    # State after a crash between the two renames: old model moved aside, the new
    # one still under its temporary name.
    tmp = tmp_path / f"m{P._TMP_INFIX}{uuid.uuid4().hex}"
    shutil.copytree(target, tmp)
    backup = tmp_path / f"m{P._BAK_INFIX}{uuid.uuid4().hex}"
    os.rename(target, backup)

    with pytest.warns(RuntimeWarning, match="interrupted"):
        loaded, meta = P.load_model(target)
    _assert_identical(loaded, old)
    with pytest.raises(ValueError, match="temporary folder"):
        P.load_model(tmp)
    assert _loadable_entries(tmp_path) == [backup.name]  # the temporary folder never loads

    new = _lstm_params(seed=2)
    P.save_model(target, new, {"run": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    _assert_identical(P.load_model(target)[0], new)


def test_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path):
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        P.save_model(target, _lstm_params(), {})
    assert (target / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


def test_refuses_temporary_and_backup_names(tmp_path):
    with pytest.raises(ValueError, match="temporary/backup"):
        P.save_model(tmp_path / f"m{P._BAK_INFIX}{uuid.uuid4().hex}", _lstm_params(), {})


# --------------------------------------------------------------------------- damaged models


def test_flipped_byte_restores_silently_in_orbax_but_fails_checksum(tmp_path):
    import orbax.checkpoint as ocp

    params = _lstm_params(seed=3, n_layers=2)
    P.save_model(tmp_path / "m", params, {})
    victim = _biggest_params_file(tmp_path / "m")
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))

    # Orbax itself does not notice: it restores wrong values without an error.
    target = {
        "layers": [{k: np.empty_like(v) for k, v in layer.items()} for layer in params["layers"]],
        "head": {k: np.empty_like(v) for k, v in params["head"].items()},
    }
    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
        raw = checkpointer.restore((tmp_path / "m" / P.PARAMS_DIR).absolute(), args=ocp.args.StandardRestore(target))
    changed = [k for k, v in P.leaf_checksums(raw).items() if v != P.leaf_checksums(params)[k]]
    assert len(changed) == 1

    with pytest.raises(ValueError, match="checksum mismatch") as info:
        P.load_model(tmp_path / "m")
    assert repr(changed[0]) in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "delete_file", "delete_params", "empty_params"])
def test_damaged_params_raise_value_error(tmp_path, damage):
    model = tmp_path / "m"
    P.save_model(model, _lstm_params(), {})
    victim = _biggest_params_file(model)
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    elif damage == "delete_file":
        victim.unlink()
    elif damage == "delete_params":
        shutil.rmtree(model / P.PARAMS_DIR)
    else:
        shutil.rmtree(model / P.PARAMS_DIR)
        (model / P.PARAMS_DIR).mkdir()
    with pytest.raises(ValueError, match="damaged"):
        P.load_model(model)


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        P.load_model(tmp_path / "nowhere")


@pytest.mark.parametrize("version", [0, 99])
def test_unsupported_format_version(tmp_path, version):
    model = tmp_path / "m"
    P.save_model(model, _lstm_params(), {})
    meta = json.loads((model / P.METADATA_FILE).read_text())
    meta["format_version"] = version
    (model / P.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"format_version {version}.*supported format_version {P.FORMAT_VERSION}"):
        P.load_model(model)


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "missing", "nan", "not_object", "wrong_structure", "missing_checksum"]
)
def test_damaged_metadata_raises_value_error(tmp_path, damage):
    model = tmp_path / "m"
    P.save_model(model, _lstm_params(), {"loss": 1.0})
    meta_file = model / P.METADATA_FILE
    text = meta_file.read_text()
    meta = json.loads(text)
    if damage == "garbage":
        meta_file.write_bytes(b"\xff\xfe not json")
    elif damage == "truncated":
        meta_file.write_text(text[: len(text) // 2])
    elif damage == "missing":
        meta_file.unlink()
    elif damage == "nan":
        meta_file.write_text(text.replace('"loss": 1.0', '"loss": NaN'))
    elif damage == "not_object":
        meta_file.write_text("[1, 2]")
    elif damage == "wrong_structure":
        meta["params_structure"]["children"]["head"]["children"]["w"]["shape"] = [1, 32]
        meta_file.write_text(json.dumps(meta))
    else:
        del meta["params_sha256"]["head/b"]
        meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError):
        P.load_model(model)


# --------------------------------------------------------------------------- refused inputs


def test_nan_in_params_raises_and_writes_nothing(tmp_path):
    params = _lstm_params()
    params["layers"][0]["b"][5] = np.nan
    with pytest.raises(ValueError, match="layers/0/b"):
        P.save_model(tmp_path / "sub" / "m", params, {})
    assert list(tmp_path.iterdir()) == []


def test_nan_in_metadata_raises_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"metadata\['metrics'\]\['val_loss'\]"):
        P.save_model(tmp_path / "m", _lstm_params(), {"metrics": {"val_loss": float("nan")}})
    with pytest.raises(TypeError, match=r"metadata\['scaler'\]"):
        P.save_model(tmp_path / "m", _lstm_params(), {"scaler": np.ones(3)})
    assert list(tmp_path.iterdir()) == []


def test_unsupported_leaves_raise(tmp_path):
    with pytest.raises(TypeError, match="extra"):
        P.save_model(tmp_path / "m", {"extra": "text"}, {})
    with pytest.raises(TypeError, match="keys"):
        P.save_model(tmp_path / "m", {1: np.ones(2)}, {})
    with pytest.raises(ValueError, match="zero size"):
        P.save_model(tmp_path / "m", {"w": np.ones((0, 3), np.float32)}, {})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- JSON export


def test_json_export_round_trip_bit_exact(tmp_path):
    params = _nested_params()
    hard = np.array(
        [0.1, -0.0, 1e-45, 1.1754942e-38, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1 / 3],
        dtype=np.float32,
    )
    params["hard"] = np.concatenate([hard, np.random.default_rng(9).standard_normal(500).astype(np.float32)])
    path = P.write_json_atomic(tmp_path / "weights.json", P.params_to_json(params))
    assert [p.name for p in tmp_path.iterdir()] == ["weights.json"]
    back = P.params_from_json(P.read_json(path))
    _assert_identical(back, params)


def test_json_export_detects_edited_values(tmp_path):
    doc = P.params_to_json(_lstm_params())
    doc["params"]["children"]["head"]["children"]["b"]["data"][0] = 1e-3
    with pytest.raises(ValueError, match="'head/b'"):
        P.params_from_json(doc)


def test_json_helpers_reject_non_finite_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"obj\['a'\]\[1\]"):
        P.write_json_atomic(tmp_path / "x.json", {"a": [1.0, float("inf")]})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "bad.json").write_text('{"a": NaN}')
    with pytest.raises(ValueError, match="bad.json"):
        P.read_json(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="absent.json"):
        P.read_json(tmp_path / "absent.json")
    with pytest.raises(ValueError, match="non-finite"):
        P.params_to_json({"w": np.array([1.0, np.nan], np.float32)})
    doc = P.params_to_json({"w": np.ones(2, np.float32)})
    doc["format_version"] = 99
    with pytest.raises(ValueError, match="format_version 99"):
        P.params_from_json(doc)


def test_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = _lstm_params()
    assert P.save_model("m", params, {}) == pathlib.Path("m")
    _assert_identical(P.load_model("m")[0], params)


# --------------------------------------------------------------------------- no pickle


def test_no_pickle_on_save_load_or_json(tmp_path, monkeypatch):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "dump", "dumps"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    params = _nested_params()
    P.save_model(tmp_path / "m", params, {"a": 1})
    _assert_identical(P.load_model(tmp_path / "m")[0], params)
    P.write_json_atomic(tmp_path / "w.json", P.params_to_json(params))
    _assert_identical(P.params_from_json(P.read_json(tmp_path / "w.json")), params)
