"""Tests for model folders: Orbax params + sealed metadata.json, atomic replacement, damage detection."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import shutil
import tempfile
import threading
import time
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from persist_trees import assert_identical, biggest_params_file, identical, lstm_params, model_files, nested_params

import jaxlstm
from jaxlstm._src.io import model_files as F

V1_MODEL = pathlib.Path(__file__).resolve().parents[1] / "data" / "model_format_v1"

# Metadata shaped like an LSTMForecaster's: every value here changes a forecast.
FORECASTER_METADATA = {
    "model": "LSTMForecaster",
    "symbol": "BTCUSD",
    "config": {"hidden_size": 4, "sequence_length": 5, "target": "relative"},
    "encoding": {"target": "relative", "log_return_std": 0.0055272060025067645},
    "data": {"interval_seconds": 3600.0, "last_window": [7962.03, 7950.8, 7965.94, 7973.14, 7965.97]},
    "history": {"train_loss": [0.88, 0.87], "val_loss": [0.61, 0.6]},
    "intervals": {"method": "conformal", "residuals": {"1": [0.1, 0.2]}},
}


def _entries(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _edit_metadata(model: pathlib.Path, edit, *, reseal: bool = False) -> None:
    """Edits metadata.json in place; ``reseal`` recomputes the document checksum (a forgery)."""
    meta_file = model / F.METADATA_FILE
    doc = json.loads(meta_file.read_text())
    edit(doc)
    if reseal:
        doc = F.seal(doc)
    meta_file.write_text(json.dumps(doc, indent=2))


# --------------------------------------------------------------------------- round trips


def test_round_trip_float32_bit_exact(tmp_path):
    params = lstm_params()
    out = F.save_model(tmp_path / "model", params, {"symbol": "ABC", "metrics": {"rmse": np.float32(0.25)}})
    assert out == tmp_path / "model"
    assert _entries(out) == [F.METADATA_FILE, F.PARAMS_DIR]
    assert _entries(tmp_path) == ["model", "model.lock"]

    loaded, meta = F.load_model(out)
    assert_identical(loaded, params)
    assert meta["symbol"] == "ABC" and meta["metrics"] == {"rmse": 0.25}
    assert meta["format_version"] == F.FORMAT_VERSION == 2
    assert meta["library"] == "jaxlstm" and meta["library_version"] == jaxlstm.__version__
    assert meta["params_sha256"] == F.leaf_checksums(params)
    assert set(meta) == {"symbol", "metrics", *F.RESERVED_METADATA_KEYS}
    assert meta["params_structure"]["children"]["layers"]["children"][0]["children"]["w"] == {
        "kind": "array",
        "shape": [33, 128],
        "dtype": "float32",
    }
    F.verify_seal(meta, "loaded metadata")


def test_round_trip_nested_structure(tmp_path):
    params = nested_params()
    F.save_model(tmp_path / "m", params, {})
    loaded, _ = F.load_model(str(tmp_path / "m"))
    assert_identical(loaded, params)
    assert isinstance(loaded["layers"], list) and isinstance(loaded["extra"], tuple)
    assert loaded["scaler"]["count"].item() == 2**40 + 1


def test_metadata_file_is_sorted_pretty_json(tmp_path):
    F.save_model(tmp_path / "m", lstm_params(), {"zeta": 1, "alpha": {"b": 2, "a": 1}})
    text = (tmp_path / "m" / F.METADATA_FILE).read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_loaded_metadata_can_be_saved_again(tmp_path):
    params = lstm_params()
    F.save_model(tmp_path / "m", params, {"format_version": 7, "document_sha256": "x", "note": "x"})
    _, meta = F.load_model(tmp_path / "m")
    assert meta["format_version"] == F.FORMAT_VERSION and meta["note"] == "x"  # reserved keys are recomputed
    F.save_model(tmp_path / "m", params, meta)
    _, again = F.load_model(tmp_path / "m")
    assert F.caller_metadata(again) == F.caller_metadata(meta) == {"note": "x"}


def test_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = lstm_params()
    assert F.save_model("m", params, {}) == pathlib.Path("m")
    assert_identical(F.load_model("m")[0], params)


# --------------------------------------------------------------------------- atomic replacement


def test_overwrite_replaces_model_and_leaves_only_the_lock_file(tmp_path):
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {"run": 1})
    F.save_model(target, lstm_params(seed=1, n_layers=2), {"run": 2})
    loaded, meta = F.load_model(target)
    assert_identical(loaded, lstm_params(seed=1, n_layers=2))
    assert meta["run"] == 2
    assert _entries(tmp_path) == ["m", "m.lock"]


def test_overwrite_without_atomic_exchange(tmp_path, monkeypatch):
    # Platforms or file systems without renameat2(RENAME_EXCHANGE) swap with two renames.
    monkeypatch.setattr(F, "_exchange", lambda a, b: False)
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {"run": 1})
    F.save_model(target, lstm_params(seed=1), {"run": 2})
    assert F.load_model(target)[1]["run"] == 2
    assert _entries(tmp_path) == ["m", "m.lock"]


def _fail(*_args, **_kwargs):
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize("seam", ["orbax", "metadata", "fsync", "exchange", "rename"])
def test_failed_save_keeps_previous_model(tmp_path, monkeypatch, seam):
    target = tmp_path / "m"
    old = lstm_params(seed=0)
    F.save_model(target, old, {"run": 1})
    before = model_files(target)

    if seam == "orbax":
        monkeypatch.setattr(F, "_save_params_orbax", _fail)
    elif seam == "metadata":
        monkeypatch.setattr(F, "write_file_synced", _fail)
    elif seam == "fsync":
        monkeypatch.setattr(F, "fsync_tree", _fail)
    elif seam == "exchange":
        monkeypatch.setattr(F, "_exchange", _fail)
    else:  # the second rename of the two-rename swap
        real_rename = os.rename
        monkeypatch.setattr(F, "_exchange", lambda a, b: False)

        def rename(src, dst):
            if F.TMP_INFIX in pathlib.Path(src).name:
                raise RuntimeError("simulated rename failure")
            return real_rename(src, dst)

        monkeypatch.setattr(F.os, "rename", rename)
    with pytest.raises(RuntimeError, match="simulated"):
        F.save_model(target, lstm_params(seed=5), {"run": 2})
    monkeypatch.undo()

    assert model_files(target) == before
    loaded, meta = F.load_model(target)
    assert_identical(loaded, old)
    assert meta["run"] == 1
    assert _entries(tmp_path) == ["m", "m.lock"]


def test_interrupted_two_rename_swap_falls_back_to_backup_and_next_save_restores_it(tmp_path, monkeypatch):
    target = tmp_path / "m"
    old = lstm_params(seed=0)
    F.save_model(target, old, {"run": 1})
    # The state after a crash between the two renames: the old model moved aside, the
    # new one still under its temporary name.
    tmp = tmp_path / f"m{F.TMP_INFIX}{uuid.uuid4().hex}"
    shutil.copytree(target, tmp)
    backup = tmp_path / f"m{F.BAK_INFIX}{uuid.uuid4().hex}"
    os.rename(target, backup)

    with pytest.warns(RuntimeWarning, match="interrupted"):
        loaded, _ = F.load_model(target)
    assert_identical(loaded, old)
    with pytest.raises(ValueError, match="temporary folder"):
        F.load_model(tmp)

    # A save that fails now must still leave the old model loadable at the path.
    monkeypatch.setattr(F, "_save_params_orbax", _fail)
    with pytest.raises(RuntimeError):
        F.save_model(target, lstm_params(seed=2), {"run": 2})
    monkeypatch.undo()
    assert_identical(F.load_model(target)[0], old)

    new = lstm_params(seed=2)
    F.save_model(target, new, {"run": 2})
    assert _entries(tmp_path) == ["m", "m.lock"]
    assert_identical(F.load_model(target)[0], new)


def test_a_save_waits_for_a_save_in_progress_and_keeps_its_temporary_folder(tmp_path, monkeypatch):
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {"run": 0})
    inside, resume = threading.Event(), threading.Event()
    real_save = F._save_params_orbax

    def slow_save(directory, params):
        if threading.current_thread().name == "first":
            inside.set()
            resume.wait(10)
            assert directory.parent.is_dir()  # the second save did not remove our folder
        real_save(directory, params)

    monkeypatch.setattr(F, "_save_params_orbax", slow_save)
    errors = []

    def save(seed):
        try:
            F.save_model(target, lstm_params(seed=seed), {"run": seed})
        except Exception as err:
            errors.append(err)

    first = threading.Thread(target=save, args=(1,), name="first")
    first.start()
    inside.wait(10)
    second = threading.Thread(target=save, args=(2,), name="second")
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the lock
    resume.set()
    first.join(10)
    second.join(10)
    assert errors == []
    assert F.load_model(target)[1]["run"] == 2
    assert _entries(tmp_path) == ["m", "m.lock"]


def test_save_inside_model_lock_and_lock_timeout(tmp_path):
    target = tmp_path / "m"
    with F.model_lock(target):
        F.save_model(target, lstm_params(seed=0), {"run": 0})  # re-entrant: no deadlock
        held = threading.Event()
    errors = []

    def hold():
        with F.model_lock(target):
            held.set()
            while not errors:
                threading.Event().wait(0.01)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        F.save_model(target, lstm_params(seed=1), {"run": 1}, lock_timeout=0.1)
    except TimeoutError as err:
        errors.append(err)
    thread.join()
    assert len(errors) == 1 and "locked" in str(errors[0])
    assert F.load_model(target)[1]["run"] == 0


def test_stale_temporary_folders_of_dead_saves_are_removed(tmp_path):
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {})
    stale = tmp_path / f"m{F.TMP_INFIX}{uuid.uuid4().hex}"
    stale.mkdir()
    (stale / "half-written").write_text("x")
    F.save_model(target, lstm_params(seed=1), {})
    assert _entries(tmp_path) == ["m", "m.lock"]


@pytest.mark.skipif(not F.locking.PROCESS_LOCKS, reason="without process locks a save looks for no leftovers")
def test_a_save_lists_its_folder_once_and_cleans_only_its_own_leftovers(tmp_path, monkeypatch):
    # A models folder of 10,000 models made each save list 20,000 entries three times
    # through pathlib: 285 ms a save against 52 ms in an empty folder.
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {})
    others = [tmp_path / f"m2{F.TMP_INFIX}{uuid.uuid4().hex}", tmp_path / f"mm{F.BAK_INFIX}{uuid.uuid4().hex}"]
    mine = [tmp_path / f"m{F.TMP_INFIX}{uuid.uuid4().hex}", tmp_path / f"m{F.BAK_INFIX}{uuid.uuid4().hex}"]
    for folder in others + mine:
        folder.mkdir()
    listings = []
    scandir = os.scandir

    def counted(path="."):
        listings.append(path)  # shutil.rmtree walks by file descriptor: ints
        return scandir(path)

    iterdir = pathlib.Path.iterdir

    def listed(self):
        if self == tmp_path:
            pytest.fail("the models folder was listed through pathlib")
        return iterdir(self)  # a model folder's own few files are

    monkeypatch.setattr(F.os, "scandir", counted)
    monkeypatch.setattr(pathlib.Path, "iterdir", listed)
    F.save_model(target, lstm_params(seed=1), {"run": 2})
    monkeypatch.undo()
    assert [p for p in listings if not isinstance(p, int) and pathlib.Path(p) == tmp_path] == [tmp_path]
    assert _entries(tmp_path) == sorted(["m", "m.lock", *(p.name for p in others)])
    assert F.load_model(target)[1]["run"] == 2


def test_without_process_locks_other_saves_folders_are_kept(tmp_path, monkeypatch):
    # Where fcntl is missing the lock cannot prove a temporary folder's owner is gone.
    monkeypatch.setattr(F.locking, "PROCESS_LOCKS", False)
    target = tmp_path / "m"
    F.save_model(target, lstm_params(seed=0), {})
    foreign = tmp_path / f"m{F.TMP_INFIX}{uuid.uuid4().hex}"
    foreign.mkdir()
    F.save_model(target, lstm_params(seed=1), {"run": 2})
    assert _entries(tmp_path) == sorted(["m", "m.lock", foreign.name])
    assert F.load_model(target)[1]["run"] == 2


def test_loads_during_saves_see_one_whole_model(tmp_path):
    target = tmp_path / "m"
    models = {seed: lstm_params(seed=seed, hidden=8) for seed in (0, 1)}
    F.save_model(target, models[0], {"seed": 0})
    done = threading.Event()
    errors = []

    def saver():
        try:
            for i in range(12):
                F.save_model(target, models[i % 2], {"seed": i % 2})
        except Exception as err:
            errors.append(err)
        finally:
            done.set()

    thread = threading.Thread(target=saver)
    thread.start()
    loads = 0
    while not done.is_set() or loads < 3:
        params, meta = F.load_model(target)
        assert_identical(params, models[meta["seed"]])
        loads += 1
    thread.join()
    assert errors == [] and loads >= 3


def test_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path):
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        F.save_model(target, lstm_params(), {})
    assert (target / "notes.txt").read_text() == "keep me"
    assert _entries(tmp_path) == ["project", "project.lock"]


@pytest.mark.parametrize("name", [f"m{F.BAK_INFIX}{'a' * 32}", f"m{F.TMP_INFIX}{'0' * 32}", ".", "..", ""])
def test_refuses_temporary_backup_and_empty_names(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="cannot be a model folder"):
        F.save_model(name, lstm_params(), {})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged models


def test_flipped_byte_restores_silently_in_orbax_but_is_refused(tmp_path):
    import orbax.checkpoint as ocp

    params = lstm_params(seed=3, n_layers=2)
    F.save_model(tmp_path / "m", params, {})
    victim = biggest_params_file(tmp_path / "m")
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))

    # Orbax itself does not notice: it restores wrong values without an error.
    target = F.abstract_tree(F.describe(F.canonical_tree(params)))
    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
        raw = checkpointer.restore((tmp_path / "m" / F.PARAMS_DIR).absolute(), args=ocp.args.StandardRestore(target))
    changed = [k for k, v in F.leaf_checksums(raw).items() if v != F.leaf_checksums(params)[k]]
    assert len(changed) == 1

    rel = victim.relative_to(tmp_path / "m").as_posix()
    with pytest.raises(ValueError, match=f"damaged: checksum mismatch for {rel}"):
        F.load_model(tmp_path / "m")


@pytest.mark.parametrize("damage", ["truncate", "delete_file", "delete_params", "empty_params", "extra_file", "link"])
def test_damaged_params_raise_value_error(tmp_path, damage):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {})
    victim = biggest_params_file(model)
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    elif damage == "delete_file":
        victim.unlink()
    elif damage == "delete_params":
        shutil.rmtree(model / F.PARAMS_DIR)
    elif damage == "empty_params":
        shutil.rmtree(model / F.PARAMS_DIR)
        (model / F.PARAMS_DIR).mkdir()
    elif damage == "extra_file":
        (model / F.PARAMS_DIR / "extra").write_bytes(b"")
    else:
        victim.unlink()
        os.symlink("/dev/zero", victim)
    with pytest.raises(ValueError, match="damaged"):
        F.load_model(model)


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        F.load_model(tmp_path / "nowhere")


def test_format_1_model_is_refused_naming_both_versions():
    assert json.loads((V1_MODEL / F.METADATA_FILE).read_text())["format_version"] == 1
    with pytest.raises(ValueError, match="format_version 1, older than the supported format_version 2"):
        F.load_model(V1_MODEL)


@pytest.mark.parametrize("version", [0, 1, 3, 99])
def test_unsupported_format_version(tmp_path, version):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {})
    _edit_metadata(model, lambda doc: doc.update(format_version=version), reseal=True)
    with pytest.raises(ValueError, match=f"format_version {version}, .* supported format_version {F.FORMAT_VERSION}"):
        F.load_model(model)


# Edits the issue reported as loading and forecasting differently without a word.
_VALUE_EDITS = {
    "log_return_std": lambda d: d["encoding"].update(log_return_std=0.006),
    "last_window": lambda d: d["data"]["last_window"].__setitem__(3, 8000.0),
    "sequence_length": lambda d: d["config"].update(sequence_length=6),
    "symbol": lambda d: d.update(symbol="ETHUSD"),
    "history_as_list": lambda d: d.update(history=[1, 2]),
    "intervals_as_list": lambda d: d.update(intervals=[]),
    "interval_seconds_1e300": lambda d: d["data"].update(interval_seconds=1e300),
    "huge_shape": lambda d: d["params_structure"]["children"]["head"]["children"]["w"].update(
        shape=[1_000_000, 1_000_000]
    ),
    "params_sha256_deleted": lambda d: d.pop("params_sha256"),
    "params_files_deleted": lambda d: d.pop("params_files"),
    "checksum_deleted": lambda d: d.pop("document_sha256"),
    "library_version": lambda d: d.update(library_version="9.9"),
    "new_key": lambda d: d.update(extra=1),
}


@pytest.mark.parametrize("edit", list(_VALUE_EDITS), ids=list(_VALUE_EDITS))
def test_any_edited_metadata_value_is_refused(tmp_path, edit):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(hidden=4), FORECASTER_METADATA)
    _edit_metadata(model, _VALUE_EDITS[edit])
    with pytest.raises(ValueError, match="is damaged"):
        F.load_model(model)


def test_reformatted_metadata_still_loads(tmp_path):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(hidden=4), FORECASTER_METADATA)
    want = F.load_model(model)
    _edit_metadata(model, lambda doc: None)  # indent 2, keys unsorted: same values
    got = F.load_model(model)
    assert_identical(got[0], want[0]) and got[1] == want[1]


@pytest.mark.parametrize(
    "forgery, match",
    [
        (_VALUE_EDITS["huge_shape"], "budget"),
        (lambda d: d.pop("params_sha256"), "params_sha256"),
        (lambda d: d.update(params_files={}), "params_files"),
        (lambda d: d.update(params_files=[1]), "params_files"),
        (lambda d: d.update(params_files={"../x": {"size": 1, "sha256": "0"}}), "missing"),
        (lambda d: d.update(params_structure={"kind": "list", "children": []}), "no arrays"),
        (lambda d: d.update(params_structure=None), "root"),
    ],
)
def test_forged_metadata_is_refused_without_crashing(tmp_path, forgery, match):
    # Recomputed checksums (a deliberate edit) still never crash a load or allocate wildly.
    model = tmp_path / "m"
    F.save_model(model, lstm_params(hidden=4), FORECASTER_METADATA)
    _edit_metadata(model, forgery, reseal=True)
    with pytest.raises(ValueError, match=match):
        F.load_model(model)


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "missing", "nan", "inf_literal", "not_object", "deep", "duplicate_key"]
)
def test_unreadable_metadata_raises_value_error(tmp_path, damage):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {"loss": 1.0})
    meta_file = model / F.METADATA_FILE
    text = meta_file.read_text()
    if damage == "garbage":
        meta_file.write_bytes(b"\xff\xfe not json")
    elif damage == "truncated":
        meta_file.write_text(text[: len(text) // 2])
    elif damage == "missing":
        meta_file.unlink()
    elif damage == "nan":
        meta_file.write_text(text.replace('"loss": 1.0', '"loss": NaN'))
    elif damage == "inf_literal":
        meta_file.write_text(text.replace('"loss": 1.0', '"loss": 1e999'))
    elif damage == "not_object":
        meta_file.write_text("[1, 2]")
    elif damage == "deep":
        meta_file.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        meta_file.write_text(text.replace('"loss": 1.0', '"loss": 1.0, "loss": 2.0'))
    with pytest.raises(ValueError, match="is damaged"):
        F.load_model(model)


def test_metadata_of_something_else_is_not_a_jaxlstm_model(tmp_path):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {})
    (model / F.METADATA_FILE).write_text('{"tool": "other", "version": 3}')
    with pytest.raises(ValueError, match="is not a jaxlstm model"):
        F.load_model(model)


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev_zero", "symlink_to_copy"])
def test_metadata_that_is_not_a_regular_file_is_damaged(tmp_path, kind):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {})
    meta_file = model / F.METADATA_FILE
    copy = tmp_path / "copy.json"
    shutil.copy(meta_file, copy)
    meta_file.unlink()
    if kind == "folder":
        meta_file.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(meta_file)
    elif kind == "dev_zero":
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero here")
        os.symlink("/dev/zero", meta_file)
    else:
        os.symlink(copy, meta_file)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_error_of(F.load_model, model)), daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        if kind == "fifo":
            with open(meta_file, "w"):  # let the reader go
                pass
        pytest.fail("load_model hung")
    assert isinstance(outcome[0], ValueError) and "is damaged" in str(outcome[0]), outcome


def _error_of(func, *args):
    try:
        func(*args)
    except Exception as err:
        return err
    return None


def test_metadata_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    model = tmp_path / "m"
    F.save_model(model, lstm_params(), {})
    size = (model / F.METADATA_FILE).stat().st_size
    monkeypatch.setattr(F, "MAX_METADATA_BYTES", size - 1)
    with pytest.raises(ValueError, match=f"damaged.*{size} bytes, more than the limit"):
        F.load_model(model)


def _crafted_metadata(kind: str, size: int) -> bytes:
    """A hostile metadata.json of about ``size`` bytes (the shapes that cost most to parse)."""
    if kind == "deep":
        return b"[" * (size // 2) + b"]" * (size // 2)
    if kind == "floats":
        return b"[" + b"0.5," * (size // 4 - 1) + b"0.5]"
    if kind == "keys":
        return b"{" + b",".join(b'"%x":0' % i for i in range(size // 10)) + b"}"
    if kind == "lists":
        return b"[" + b"[]," * (size // 3 - 1) + b"[]]"
    if kind == "string":
        return b'{"a":"' + b"\\u00e9" * (size // 6 - 2) + b'"}'
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["deep", "floats", "keys", "lists", "string"])
def test_a_hostile_metadata_file_under_the_size_cap_is_refused_quickly(tmp_path, kind):
    # Just under the old 64 MiB cap such files cost 12-45 s and up to 3.7 GB before being refused.
    model = tmp_path / "m"
    (model / F.PARAMS_DIR).mkdir(parents=True)
    (model / F.METADATA_FILE).write_bytes(_crafted_metadata(kind, F.MAX_METADATA_BYTES - 64))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"model at .*(is damaged|is not a jaxlstm model)") as caught:
        F.load_model(model)
    assert time.perf_counter() - start < 5  # about 0.2 s; generous for a loaded machine
    assert "\n" not in str(caught.value)


def test_save_refuses_metadata_that_load_would_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "MAX_METADATA_ELEMENTS", 1000)
    with pytest.raises(ValueError, match="metadata holds more than 1000 elements"):
        F.save_model(tmp_path / "m", lstm_params(), {"residuals": [0.5] * 1000})
    monkeypatch.setattr(F, "MAX_METADATA_ELEMENTS", 10**6)
    monkeypatch.setattr(F, "MAX_METADATA_BYTES", 20_000)
    with pytest.raises(ValueError, match=r"metadata takes \d+ bytes as metadata.json, more than the 20000"):
        F.save_model(tmp_path / "m", lstm_params(), {"note": "x" * 20_000})
    assert not (tmp_path / "m").exists() and [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


# --------------------------------------------------------------------------- refused inputs


def test_nan_in_params_raises_and_writes_nothing(tmp_path):
    params = lstm_params()
    params["layers"][0]["b"][5] = np.nan
    with pytest.raises(ValueError, match="layers/0/b"):
        F.save_model(tmp_path / "sub" / "m", params, {})
    assert list(tmp_path.iterdir()) == []


def test_bad_metadata_raises_naming_the_key_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"metadata\['metrics'\]\['val_loss'\]"):
        F.save_model(tmp_path / "m", lstm_params(), {"metrics": {"val_loss": float("nan")}})
    with pytest.raises(TypeError, match=r"metadata\['scaler'\]"):
        F.save_model(tmp_path / "m", lstm_params(), {"scaler": np.ones(3)})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        F.save_model(tmp_path / "m", lstm_params(), [])
    deep: dict = {}
    for _ in range(F.MAX_JSON_DEPTH):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="levels deep"):
        F.save_model(tmp_path / "m", lstm_params(), deep)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_leaves_raise(tmp_path):
    with pytest.raises(TypeError, match="extra"):
        F.save_model(tmp_path / "m", {"extra": "text"}, {})
    with pytest.raises(ValueError, match="zero size"):
        F.save_model(tmp_path / "m", {"w": np.ones((0, 3), np.float32)}, {})
    assert list(tmp_path.iterdir()) == []


def test_no_pickle_on_save_or_load(tmp_path, monkeypatch):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "dump", "dumps"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    params = nested_params()
    F.save_model(tmp_path / "m", params, {"a": 1})
    assert_identical(F.load_model(tmp_path / "m")[0], params)


# --------------------------------------------------------------------------- property: no silent change


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    model = tmp_path_factory.mktemp("saved") / "m"
    F.save_model(model, lstm_params(seed=4, hidden=4), FORECASTER_METADATA)
    params, metadata = F.load_model(model)
    files = sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())
    return model, params, metadata, files


def _load_outcome(model: pathlib.Path, params, metadata) -> str:
    """ "same" or "refused"; anything else (a different model, another exception) fails the test."""
    try:
        got_params, got_metadata = F.load_model(model)
    except ValueError:
        return "refused"
    assert identical(got_params, params) and got_metadata == metadata, "a tampered model loaded differently"
    return "same"


_byte_edits = st.tuples(
    st.integers(0, 10**6),  # which file (modulo the count)
    st.sampled_from(["flip", "set", "truncate", "append", "delete", "empty"]),
    st.floats(0, 1, exclude_max=True),  # where in the file
    st.integers(1, 255),
)


@pytest.mark.slow  # 150 tampered folders: the quick tier stays under 90 s
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_byte_edits, min_size=1, max_size=3))
def test_tampered_bytes_never_load_silently_different(saved_model, edits):
    model, params, metadata, files = saved_model
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / "m"
        shutil.copytree(model, copy)
        for index, op, where, value in edits:
            victim = copy / files[index % len(files)]
            if not victim.exists():
                continue
            data = bytearray(victim.read_bytes())
            pos = int(where * len(data))
            if op == "flip" and data:
                data[pos] ^= value
            elif op == "set" and data:
                data[pos] = value
            elif op == "truncate":
                del data[pos:]
            elif op == "append":
                data += bytes([value])
            elif op == "empty":
                data = bytearray()
            if op == "delete":
                victim.unlink()
            else:
                victim.write_bytes(bytes(data))
        _load_outcome(copy, params, metadata)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def _json_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _json_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _json_paths(child, (*prefix, i))


def _replace(doc, path, value, delete: bool):
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 10**6), value=_json_values, delete=st.booleans(), reseal=st.booleans())
def test_tampered_metadata_fields_never_load_silently_different(saved_model, which, value, delete, reseal):
    model, params, metadata, _ = saved_model
    doc = json.loads((model / F.METADATA_FILE).read_text())
    paths = list(_json_paths(doc))
    path = paths[which % len(paths)]
    doc = _replace(doc, path, value, delete and bool(path))
    if reseal and isinstance(doc, dict):
        doc = F.seal(doc)
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / "m"
        shutil.copytree(model, copy)
        (copy / F.METADATA_FILE).write_text(json.dumps(doc))
        if reseal and isinstance(doc, dict):
            # A forgery with a valid seal may load, but only as exactly what it says, and the
            # params still match their recorded checksums byte for byte; otherwise it is
            # refused by a message naming the model.
            try:
                got_params, got_metadata = F.load_model(copy)
            except ValueError as err:
                assert str(err).startswith(f"model at {str(copy)!r} "), str(err)
            else:
                assert identical(got_params, params) and got_metadata == doc
        else:
            _load_outcome(copy, params, metadata)
