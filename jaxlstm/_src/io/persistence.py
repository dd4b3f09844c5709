"""Saving and loading trained models: a folder with Orbax params and JSON metadata.

A saved model is a folder::

    model/
      params/          the parameter pytree, written by orbax-checkpoint
      metadata.json    caller metadata plus what is needed to restore and verify params

``metadata.json`` records the exact tree structure (nesting, every leaf's shape and
dtype) and a SHA-256 per leaf. Orbax does not checksum array contents (one flipped byte
in its data files restores silently with wrong values), so ``load_model`` re-hashes
every restored leaf and refuses a model whose bytes changed.

Atomic replacement. ``save_model`` writes the whole model into a sibling folder
``<name>.tmp-<hex>`` and fsyncs it. Only when it is complete does it move the previous
model (if any) aside to ``<name>.bak-<hex>``, rename the new folder to ``<name>``,
and delete the backup. A crash before the swap leaves the previous model untouched
and a temporary folder that ``load_model`` refuses by name. The one remaining window
is between the two renames (two metadata operations, microseconds): a crash there
leaves no ``<name>`` but a complete backup, and ``load_model`` then loads the newest
backup with a ``RuntimeWarning``. The next successful ``save_model`` to the same path
deletes leftover temporary and backup siblings, so only one process may save to a
given path at a time.

Parameters come back from ``load_model`` and ``params_from_json`` as numpy arrays in
the saved dtypes (dicts, lists and tuples as saved); ``jax.device_put`` moves them to
a device, and every jitted function accepts them as they are. No pickle is used
anywhere: Orbax stores arrays with TensorStore, the rest is JSON.

Orbax is imported inside the functions that need it because importing it costs
a noticeable fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import re
import shutil
import uuid
import warnings
from typing import Any

import numpy as np

from jaxlstm._src.version import __version__

FORMAT_VERSION = 1
"""Version of the on-disk model layout written by ``save_model``."""

JSON_FORMAT = "jaxlstm.params"
"""Value of the ``format`` key in ``params_to_json`` documents."""

JSON_FORMAT_VERSION = 1
"""Version of the ``params_to_json`` document layout (independent of ``FORMAT_VERSION``)."""

LIBRARY_NAME = "jaxlstm"

METADATA_FILE = "metadata.json"
PARAMS_DIR = "params"

# Keys that save_model computes itself; values a caller passes under these names are
# replaced, so metadata returned by load_model can be passed straight back to save_model.
RESERVED_METADATA_KEYS = ("format_version", "library", "library_version", "params_structure", "params_sha256")

# Only plain numeric dtypes: anything else (object, strings, PRNG keys) either cannot
# be stored without pickle or does not round-trip through JSON exactly.
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
_SUPPORTED_DTYPES = (
    ("bool",) + tuple(f"int{b}" for b in (8, 16, 32, 64)) + tuple(f"uint{b}" for b in (8, 16, 32, 64)) + _FLOAT_DTYPES
)

_HEX_SUFFIX = r"[0-9a-f]{32}"
_TMP_INFIX = ".tmp-"
_BAK_INFIX = ".bak-"
_SIBLING_RE = re.compile(rf"(?P<name>.+)(?P<kind>\.tmp-|\.bak-)(?P<hex>{_HEX_SUFFIX})")


# --------------------------------------------------------------------------- helpers


def _dtype_from_name(name: Any, where: str) -> np.dtype:
    """Returns the numpy dtype for a supported dtype name, or raises ValueError."""
    if not isinstance(name, str) or name not in _SUPPORTED_DTYPES:
        raise ValueError(f"{where}: dtype must be one of {', '.join(_SUPPORTED_DTYPES)}, got {name!r}")
    if name == "bfloat16":
        import ml_dtypes  # ships with jax; registers the bfloat16 name with numpy

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _join(prefix: str, key: str | int) -> str:
    return f"{prefix}/{key}" if prefix else str(key)


def _canonical_leaf(value: Any, where: str, *, check_finite: bool = True) -> np.ndarray:
    """Converts one params leaf to a C-contiguous, native-order numpy array and checks it."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"params leaf {where!r} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as err:  # typed PRNG keys and other exotic jax arrays refuse conversion
        raise TypeError(
            f"params leaf {where!r} cannot be read as a numpy array ({type(value).__name__}): {err}"
        ) from None
    dtype = _dtype_from_name(arr.dtype.name, f"params leaf {where!r}")
    if arr.size == 0:
        # Orbax refuses zero-size arrays; failing here keeps the error before any write.
        raise ValueError(f"params leaf {where!r} has zero size (shape {arr.shape}); empty arrays cannot be saved")
    arr = np.asarray(arr, dtype=dtype, order="C")  # ascontiguousarray would turn 0-d into 1-d
    if check_finite and dtype.name in _FLOAT_DTYPES and not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"params leaf {where!r} holds {bad} non-finite value(s) (NaN or inf); refusing to save it")
    return arr


def _canonical_tree(node: Any, where: str = "") -> Any:
    """Copies the params tree with every leaf as a checked numpy array."""
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            if not isinstance(key, str) or not key or "/" in key:
                raise TypeError(
                    f"params keys must be non-empty strings without '/', got {key!r} at {where or 'the root'!r}"
                )
            out[key] = _canonical_tree(child, _join(where, key))
        return out
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        raise TypeError(
            f"params node {where or 'the root'!r} is a {type(node).__name__} (NamedTuple); "
            "only dicts, lists and tuples are supported, convert it with ._asdict()"
        )
    if isinstance(node, (list, tuple)):
        kind = list if isinstance(node, list) else tuple
        return kind(_canonical_tree(child, _join(where, i)) for i, child in enumerate(node))
    return _canonical_leaf(node, where or "the root")


def _iter_leaves(node: Any, where: str = ""):
    """Yields ``(path, leaf)`` for every leaf of a dict/list/tuple tree."""
    if isinstance(node, dict):
        for key in sorted(node):
            yield from _iter_leaves(node[key], _join(where, key))
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _iter_leaves(child, _join(where, i))
    else:
        yield where, node


def _structure(node: Any, *, with_data: bool = False) -> dict:
    """Describes a canonical tree as JSON: nesting, shapes, dtypes (and values if asked)."""
    if isinstance(node, dict):
        return {"kind": "dict", "children": {k: _structure(v, with_data=with_data) for k, v in node.items()}}
    if isinstance(node, (list, tuple)):
        kind = "list" if isinstance(node, list) else "tuple"
        return {"kind": kind, "children": [_structure(v, with_data=with_data) for v in node]}
    leaf = {"kind": "array", "shape": list(node.shape), "dtype": node.dtype.name}
    if with_data:
        # float64 Python floats hold every float16/bfloat16/float32 value exactly, and
        # json writes them with repr precision, so reading them back is bit-exact.
        values = node.astype(np.float64) if node.dtype.name in _FLOAT_DTYPES else node
        leaf["data"] = values.tolist()
    return leaf


def _from_structure(node: Any, make_leaf, where: str = "") -> Any:
    """Rebuilds a tree from a ``_structure`` description; ``make_leaf(desc, shape, dtype, path)``."""
    label = where or "the root"
    if not isinstance(node, dict) or "kind" not in node:
        raise ValueError(f"params structure at {label!r} must be an object with a 'kind', got {node!r:.80}")
    kind = node["kind"]
    if kind == "dict":
        children = node.get("children")
        if not isinstance(children, dict):
            raise ValueError(f"params structure at {label!r}: 'children' must be an object, got {children!r:.80}")
        return {k: _from_structure(v, make_leaf, _join(where, k)) for k, v in children.items()}
    if kind in ("list", "tuple"):
        children = node.get("children")
        if not isinstance(children, list):
            raise ValueError(f"params structure at {label!r}: 'children' must be a list, got {children!r:.80}")
        items = [_from_structure(v, make_leaf, _join(where, i)) for i, v in enumerate(children)]
        return items if kind == "list" else tuple(items)
    if kind == "array":
        shape = node.get("shape")
        valid = isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)
        if not valid:
            raise ValueError(f"params structure at {label!r}: shape must be a list of integers >= 0, got {shape!r}")
        dtype = _dtype_from_name(node.get("dtype"), f"params structure at {label!r}")
        return make_leaf(node, tuple(shape), dtype, where)
    raise ValueError(f"params structure at {label!r}: kind must be dict, list, tuple or array, got {kind!r}")


def _check_matches(restored: Any, expected: Any, where: str = "") -> None:
    """Raises ValueError unless ``restored`` has the nesting, shapes and dtypes of ``expected``."""
    label = where or "the root"
    if isinstance(expected, dict):
        if not isinstance(restored, dict) or set(restored) != set(expected):
            got = sorted(restored) if isinstance(restored, dict) else type(restored).__name__
            raise ValueError(f"params at {label!r}: expected keys {sorted(expected)}, got {got}")
        for key in expected:
            _check_matches(restored[key], expected[key], _join(where, key))
    elif isinstance(expected, (list, tuple)):
        if type(restored) is not type(expected) or len(restored) != len(expected):
            raise ValueError(
                f"params at {label!r}: expected a {type(expected).__name__} of {len(expected)} items, "
                f"got {type(restored).__name__} {restored!r:.80}"
            )
        for i, (r, e) in enumerate(zip(restored, expected)):
            _check_matches(r, e, _join(where, i))
    else:
        if not isinstance(restored, np.ndarray):
            raise ValueError(f"params leaf {label!r}: expected a numpy array, got {type(restored).__name__}")
        if restored.shape != expected.shape or restored.dtype != expected.dtype:
            raise ValueError(
                f"params leaf {label!r}: expected {expected.dtype.name}{list(expected.shape)}, "
                f"got {restored.dtype.name}{list(restored.shape)}"
            )


def _leaf_sha256(arr: np.ndarray) -> str:
    digest = hashlib.sha256()
    # dtype and shape are part of the hash so a reinterpretation of the same bytes
    # (float32 read as int32, [4, 2] read as [2, 4]) does not verify.
    digest.update(arr.dtype.name.encode("ascii"))
    digest.update(b"\0")
    digest.update(json.dumps(list(arr.shape)).encode("ascii"))
    digest.update(b"\0")
    # Little-endian bytes, so the hash does not depend on the machine that computes it.
    digest.update(np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C").tobytes())
    return digest.hexdigest()


def _verify_checksums(params: Any, expected: Any, source: str) -> None:
    """Raises ValueError naming the first leaf whose SHA-256 differs from ``expected``."""
    if not isinstance(expected, dict):
        raise ValueError(f"{source}: params_sha256 must be an object of leaf path -> hex digest, got {expected!r:.80}")
    actual = leaf_checksums(params)
    if set(actual) != set(expected):
        missing = sorted(set(actual) - set(expected))
        extra = sorted(set(expected) - set(actual))
        raise ValueError(
            f"{source}: params_sha256 does not list the saved leaves (missing {missing}, unexpected {extra})"
        )
    for key, digest in actual.items():
        if digest != expected[key]:
            raise ValueError(
                f"{source}: checksum mismatch for params leaf {key!r} "
                f"(sha256 {digest[:16]}..., recorded {str(expected[key])[:16]}...); the data is damaged"
            )


def _json_default(value: Any) -> Any:
    # Numpy and JAX scalars (metrics, losses) are common in metadata; 0-d values become
    # Python numbers, anything bigger must be converted by the caller on purpose.
    if isinstance(value, np.generic) or (hasattr(value, "item") and getattr(value, "ndim", None) == 0):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _find_json_problem(value: Any, where: str) -> str | None:
    """Returns a message naming the first non-JSON-able or non-finite entry, or None."""
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                return f"{where} has a non-string key {key!r}; JSON keys must be strings"
            found = _find_json_problem(child, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            found = _find_json_problem(child, f"{where}[{i}]")
            if found:
                return found
        return None
    if value is None or isinstance(value, (str, bool, int)):
        return None
    try:
        value = value if isinstance(value, float) else _json_default(value)
    except TypeError:
        return f"{where} is a {type(value).__name__}, which is not JSON (use dict, list, str, int, float, bool or None)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}; JSON files here must hold finite numbers only"
    return None


def _dumps(obj: Any, name: str) -> str:
    """Serialises ``obj`` as strict, sorted, indented JSON, naming the offending entry on failure."""
    try:
        return json.dumps(obj, allow_nan=False, sort_keys=True, indent=2, default=_json_default) + "\n"
    except (TypeError, ValueError) as err:
        problem = _find_json_problem(obj, name)
        raise type(err)(problem or f"{name} cannot be written as JSON: {err}") from None


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-finite number {token} is not valid JSON")


def _fsync_dir(path: pathlib.Path) -> None:
    # Directory fsync makes renames and new entries durable on POSIX; other systems
    # cannot open a directory for syncing, and their rename is the best available.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: pathlib.Path) -> None:
    # Orbax writes through TensorStore and does not promise durability on return.
    for folder, _, files in os.walk(root):
        for fname in files:
            fd = os.open(os.path.join(folder, fname), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(pathlib.Path(folder))


def _write_file_synced(path: pathlib.Path, text: str) -> None:
    """Writes ``text`` to a new file and fsyncs it."""
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _save_params_orbax(directory: pathlib.Path, params: Any) -> None:
    """Writes ``params`` with Orbax's StandardSave; returns once everything is on disk."""
    import orbax.checkpoint as ocp

    # Checkpointer (unlike AsyncCheckpointer/CheckpointManager) is synchronous: save()
    # returns after the files are written and committed.
    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
        checkpointer.save(directory.absolute(), args=ocp.args.StandardSave(params))


def _restore_params_orbax(directory: pathlib.Path, target: Any) -> Any:
    """Restores the tree at ``directory`` into the structure and dtypes of ``target``."""
    import orbax.checkpoint as ocp

    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
        return checkpointer.restore(directory.absolute(), args=ocp.args.StandardRestore(target))


def _siblings(path: pathlib.Path, infix: str) -> list[pathlib.Path]:
    """Folders next to ``path`` named ``<name><infix><32 hex digits>``."""
    pattern = re.compile(re.escape(path.name + infix) + _HEX_SUFFIX)
    try:
        entries = list(path.parent.iterdir())
    except FileNotFoundError:
        return []
    return [p for p in entries if pattern.fullmatch(p.name) and p.is_dir()]


def _check_replaceable(path: pathlib.Path) -> None:
    """Raises unless ``path`` is absent, an empty folder, or a folder holding only a model."""
    if not os.path.lexists(path):
        return
    if not path.is_dir() or path.is_symlink():
        raise FileExistsError(f"path {str(path)!r} exists and is not a model folder; refusing to replace it")
    extra = sorted(p.name for p in path.iterdir() if p.name not in (METADATA_FILE, PARAMS_DIR))
    if extra:
        raise FileExistsError(
            f"path {str(path)!r} exists and holds files that are not part of a saved model "
            f"({', '.join(extra[:5])}); refusing to replace it"
        )


def _library_version() -> str:
    return __version__


# --------------------------------------------------------------------------- public API


def leaf_checksums(params: Any) -> dict[str, str]:
    """Computes a SHA-256 per leaf of a params tree.

    Each digest covers the dtype name, the shape and the little-endian bytes of the
    leaf as a C-contiguous numpy array, so it is the same on every machine.

    Args:
      params: nested dicts (string keys), lists and tuples of arrays.

    Returns:
      Leaf path (keys and list indices joined by ``/``, e.g. ``"layers/0/w"``) -> hex digest.
    """
    return {path: _leaf_sha256(_canonical_leaf(leaf, path, check_finite=False)) for path, leaf in _iter_leaves(params)}


def save_model(path: str | os.PathLike, params: Any, metadata: dict) -> pathlib.Path:
    """Saves params and metadata as a model folder, atomically replacing any previous model.

    Everything is validated before anything is written: non-finite params, unsupported
    leaves and non-JSON or non-finite metadata raise and leave the disk untouched.

    Args:
      path: the model folder to create or replace. An existing folder is replaced only
        if it is empty or holds nothing but ``metadata.json`` and ``params``.
      params: nested dicts (non-empty string keys without ``/``), lists and tuples whose
        leaves are numpy/JAX arrays or numbers of a bool, integer or float dtype (float16,
        bfloat16, float32, float64), all finite and non-empty.
      metadata: JSON-able dict (config, scaler, symbol, metrics ...). Numpy/JAX scalars
        are stored as numbers. The keys ``format_version``, ``library``,
        ``library_version``, ``params_structure`` and ``params_sha256`` are computed
        here and replace any value passed under those names.

    Returns:
      The model folder's path.

    Raises:
      TypeError: a params leaf or metadata entry of an unsupported type.
      ValueError: NaN/inf in params or metadata, empty params or an unusable path name.
      FileExistsError: ``path`` exists and is not a model folder.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = pathlib.Path(path)
    if not path.name or path.name in (".", "..") or _SIBLING_RE.fullmatch(path.name):
        raise ValueError(
            f"path {str(path)!r} cannot be a model folder: the name must not be empty, '.', '..', "
            "or look like a temporary/backup folder of save_model"
        )
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    if not isinstance(params, (dict, list, tuple)):
        raise TypeError(f"params must be a dict, list or tuple of arrays, got {type(params).__name__}")

    tree = _canonical_tree(params)
    checksums = {p: _leaf_sha256(leaf) for p, leaf in _iter_leaves(tree)}
    if not checksums:
        raise ValueError("params holds no arrays; there is nothing to save")
    document = {k: v for k, v in metadata.items() if k not in RESERVED_METADATA_KEYS}
    document.update(
        format_version=FORMAT_VERSION,
        library=LIBRARY_NAME,
        library_version=_library_version(),
        params_structure=_structure(tree),
        params_sha256=checksums,
    )
    text = _dumps(document, "metadata")
    _check_replaceable(path)

    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{path.name}{_TMP_INFIX}{uuid.uuid4().hex}"
    backup: pathlib.Path | None = None
    tmp.mkdir()
    try:
        _save_params_orbax(tmp / PARAMS_DIR, tree)
        # metadata.json last: a folder without it never loads, even under its final name.
        _write_file_synced(tmp / METADATA_FILE, text)
        _fsync_tree(tmp)
        if os.path.lexists(path):
            backup = parent / f"{path.name}{_BAK_INFIX}{uuid.uuid4().hex}"
            os.rename(path, backup)
        try:
            os.rename(tmp, path)
        except BaseException:
            if backup is not None:
                os.rename(backup, path)
                backup = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(parent)
    # The new model is in place; whatever is left now is an old model or debris of
    # earlier interrupted saves to this path.
    for stale in ([backup] if backup is not None else []) + _siblings(path, _BAK_INFIX) + _siblings(path, _TMP_INFIX):
        shutil.rmtree(stale, ignore_errors=True)
    return path


def _load_folder(path: pathlib.Path) -> tuple[Any, dict]:
    """Loads and verifies the model folder at ``path`` (which must exist)."""
    where = f"model at {str(path)!r}"
    sibling = _SIBLING_RE.fullmatch(path.name)
    if sibling and sibling.group("kind") == _TMP_INFIX:
        raise ValueError(f"{where} is a temporary folder of an unfinished save_model, not a model")
    if not path.is_dir():
        raise ValueError(
            f"{where} is not a folder; a saved model is a folder holding {METADATA_FILE} and {PARAMS_DIR}/"
        )
    meta_path = path / METADATA_FILE
    try:
        raw = meta_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{where} is damaged or incomplete: {METADATA_FILE} is missing") from None
    try:
        metadata = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{where} is damaged: {METADATA_FILE} is not valid JSON ({err})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{where} is damaged: {METADATA_FILE} must hold a JSON object, got {type(metadata).__name__}")
    if metadata.get("library") != LIBRARY_NAME:
        raise ValueError(
            f"{where}: {METADATA_FILE} names library {metadata.get('library')!r}, expected {LIBRARY_NAME!r}"
        )
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{where}: format_version must be an integer, got {version!r}")
    if version != FORMAT_VERSION:
        age = "older" if version < FORMAT_VERSION else "newer"
        hint = "" if version < FORMAT_VERSION else "; upgrade jaxlstm to read it"
        raise ValueError(
            f"{where} has format_version {version}, {age} than the supported format_version {FORMAT_VERSION}{hint}"
        )
    try:
        expected = _from_structure(
            metadata.get("params_structure"), lambda _desc, shape, dtype, _p: np.empty(shape, dtype)
        )
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    if not isinstance(expected, (dict, list, tuple)):
        raise ValueError(f"{where} is damaged: params_structure must describe a dict, list or tuple")

    params_dir = path / PARAMS_DIR
    if not params_dir.is_dir():
        raise ValueError(f"{where} is damaged: the {PARAMS_DIR}/ folder is missing")
    try:
        params = _restore_params_orbax(params_dir, expected)
    except Exception as err:  # Orbax/TensorStore raise ValueError, OSError, KeyError ... for bad files
        raise ValueError(f"{where} is damaged: {PARAMS_DIR}/ cannot be restored: {type(err).__name__}: {err}") from err
    try:
        _check_matches(params, expected)
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    _verify_checksums(params, metadata.get("params_sha256"), where)
    return params, metadata


def load_model(path: str | os.PathLike) -> tuple[Any, dict]:
    """Loads a model folder written by ``save_model`` and verifies every parameter byte.

    If ``path`` is missing but a complete backup ``<name>.bak-<hex>`` exists (a
    ``save_model`` was interrupted between its two renames), the newest backup is
    loaded and a ``RuntimeWarning`` names it.

    Args:
      path: the model folder.

    Returns:
      ``(params, metadata)``: params with the saved nesting (dicts, lists, tuples) and
      numpy array leaves of the saved shapes and dtypes; metadata is the full
      ``metadata.json`` dict, including the keys ``save_model`` added.

    Raises:
      FileNotFoundError: nothing at ``path`` and no backup of it.
      ValueError: missing or unparseable metadata, unsupported ``format_version``,
        params that Orbax cannot restore, or a leaf whose checksum, shape or dtype
        differs from what was saved.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = pathlib.Path(path)
    if os.path.lexists(path):
        return _load_folder(path)
    backups = sorted(_siblings(path, _BAK_INFIX), key=lambda p: p.stat().st_mtime)
    if not backups:
        raise FileNotFoundError(f"no model at path {str(path)!r}")
    warnings.warn(
        f"no model at {str(path)!r}; loading {str(backups[-1])!r}, the previous model left by a "
        "save_model that was interrupted while swapping folders (or is swapping them right now)",
        RuntimeWarning,
        stacklevel=2,
    )
    try:
        return _load_folder(backups[-1])
    except (OSError, ValueError):
        # A concurrent save may have finished and deleted the backup meanwhile.
        if path.is_dir():
            return _load_folder(path)
        raise


def write_json_atomic(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """Writes ``obj`` as strict JSON (sorted keys, indented) so readers never see a partial file.

    The text goes to a temporary file in the same folder, which is fsynced and then
    renamed over ``path`` with ``os.replace``.

    Args:
      path: destination file; its folder must exist.
      obj: JSON-able value; NaN/inf raise ValueError naming the entry.

    Returns:
      The destination path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = pathlib.Path(path)
    text = _dumps(obj, "obj")
    tmp = path.parent / f".{path.name}{_TMP_INFIX}{uuid.uuid4().hex}"
    try:
        _write_file_synced(tmp, text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def read_json(path: str | os.PathLike) -> Any:
    """Reads a strict JSON file (NaN/Infinity are rejected).

    Args:
      path: the file to read.

    Returns:
      The parsed value.

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: the file is not valid UTF-8 JSON.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = pathlib.Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no JSON file at path {str(path)!r}") from None
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError as err:
        raise ValueError(f"file {str(path)!r} is not valid JSON: {err}") from None


def params_to_json(params: Any) -> dict:
    """Exports a params tree as a JSON-able dict of nested lists, exact for every float dtype.

    Args:
      params: nested dicts, lists and tuples of finite numeric arrays (as in ``save_model``).

    Returns:
      ``{"format": "jaxlstm.params", "format_version": 1, "params": tree, "params_sha256":
      {...}}``; each leaf of ``tree`` is ``{"kind": "array", "dtype", "shape", "data"}``.
    """
    if not isinstance(params, (dict, list, tuple)):
        raise TypeError(f"params must be a dict, list or tuple of arrays, got {type(params).__name__}")
    tree = _canonical_tree(params)
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "params": _structure(tree, with_data=True),
        "params_sha256": {p: _leaf_sha256(leaf) for p, leaf in _iter_leaves(tree)},
    }


def params_from_json(obj: dict) -> Any:
    """Rebuilds a params tree from ``params_to_json`` output, verifying checksums when present.

    Args:
      obj: the dict made by ``params_to_json`` (e.g. as returned by ``read_json``).

    Returns:
      The params tree with numpy array leaves of the exported dtypes and shapes.

    Raises:
      ValueError: wrong format or version, malformed leaves, non-finite values or a
        checksum mismatch (the message names the leaf).
    """
    if not isinstance(obj, dict) or obj.get("format") != JSON_FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"obj must be a {JSON_FORMAT!r} document from params_to_json, got format {got!r}")
    version = obj.get("format_version")
    if version != JSON_FORMAT_VERSION:
        raise ValueError(f"obj has format_version {version!r}; the supported format_version is {JSON_FORMAT_VERSION}")

    def make_leaf(desc: dict, shape: tuple, dtype: np.dtype, where: str) -> np.ndarray:
        if "data" not in desc:
            raise ValueError(f"params leaf {where!r} has no 'data'")
        try:
            arr = np.array(desc["data"], dtype=dtype)
        except (TypeError, ValueError) as err:
            raise ValueError(f"params leaf {where!r}: data cannot be read as {dtype.name}: {err}") from None
        if arr.shape != shape:
            raise ValueError(f"params leaf {where!r}: data has shape {list(arr.shape)}, expected {list(shape)}")
        return _canonical_leaf(arr, where)

    params = _from_structure(obj.get("params"), make_leaf)
    if "params_sha256" in obj:
        _verify_checksums(params, obj["params_sha256"], "params JSON")
    return params
