"""Model files: a model folder (Orbax params + sealed ``metadata.json``) or one sealed JSON document.

Everything that writes or reads a saved model, by concept:

* strict JSON text and files: bounded safe reads, atomic durable writes, canonical checksums;
* params trees without pickle: canonical leaves, structure descriptions, checksums, JSON;
* model folders, replaced atomically under ``locking.model_lock`` (the Guarantees below);
* a whole model as one JSON document (``export_json``, ``import_json``).

JSON
----
Every JSON document this library writes or reads goes through here, so the rules hold
everywhere:

- Only finite numbers: NaN and infinities are refused when writing and when reading
  (including literals such as ``1e999`` that Python would read as ``inf``).
- Nesting is bounded (``MAX_JSON_DEPTH``) and duplicate object keys are refused, so a
  damaged or hostile file raises ``ValueError`` instead of ``RecursionError`` or a silent
  choice between two values. Depth and the number of elements are measured on the raw
  text before it is parsed (vectorised, a block at a time), so a hostile document is
  refused for about the cost of reading it, not of building it in memory.
- Reads refuse anything but a regular file (folders, FIFOs, devices) before reading, and
  read at most ``max_bytes + 1`` bytes, so ``/dev/zero`` or a FIFO cannot hang or exhaust
  memory.
- Writes go to a temporary file in the same folder, are fsynced and renamed into place,
  so a reader never sees a partial file and a crash leaves the old file.
- ``canonical_json`` / ``json_sha256`` give one byte string per JSON value (sorted keys,
  no whitespace, ASCII), which is what document checksums are computed over: reformatting
  a file does not change its checksum, changing any value does.

Params trees
------------
A params tree is nested dicts (non-empty string keys without ``/``), lists and tuples
whose leaves are arrays (numpy, JAX, or numbers) of a bool, integer or float dtype
(float16, bfloat16, float32, float64). This module

- brings a tree to canonical form: every leaf a checked, C-contiguous numpy array
  (``canonical_tree``);
- describes it as JSON: nesting, shapes and dtypes, optionally the values (``describe``),
  and rebuilds a tree from such a description, refusing shapes beyond an element budget
  before anything is allocated (``rebuild``, ``abstract_tree``);
- computes a SHA-256 per leaf that is the same on every machine (``leaf_checksums``);
- exports and imports a whole tree as a JSON document (``params_to_json``,
  ``params_from_json``), exact for every float dtype and always verified.

Pure: no files, no pickle. Loaded leaves are numpy arrays in the saved dtypes;
``jax.device_put`` moves them to a device and every jitted function accepts them as
they are.

Model folders
-------------
A saved model is a folder::

    model/
      params/          the parameter pytree, written by orbax-checkpoint (TensorStore, no pickle)
      metadata.json    the caller's metadata plus what is needed to restore and verify the params

``metadata.json`` holds the caller's keys and the keys this module adds: ``format_version``,
``library``, ``library_version``, ``params_structure`` (nesting, shapes, dtypes),
``params_sha256`` (a SHA-256 per leaf), ``params_files`` (size and SHA-256 of every file
under ``params/``) and ``document_sha256``, the SHA-256 of the canonical JSON of all the
other keys. Everything that changes a forecast is therefore under one checksum.

Guarantees
----------
A save (``save_model``):

- checks params and metadata before writing anything; refused input leaves the disk as it was;
- writes the new model into a temporary sibling ``<name>.tmp-<hex>``, fsyncs every file and
  folder, then swaps it in. On Linux the swap is one atomic ``renameat2(RENAME_EXCHANGE)``:
  ``path`` names a complete model at every instant. Elsewhere (or on file systems without
  it) the swap is two renames, old model to ``<name>.bak-<hex>`` then new model to ``path``;
  a crash between them leaves no ``path`` but the complete backup, which ``load_model``
  loads (with a ``RuntimeWarning``) and the next save puts back first;
- so after any crash, ``SIGKILL`` or power loss, and any interleaving of saves,
  ``load_model(path)`` returns one complete model: the previous one or a new one, never a
  mix, never nothing (with the atomic exchange, the folder at ``path`` itself is always one);
- serialises with other saves to the same path through ``model_lock`` (``<name>.lock``
  beside the folder): concurrent saves all succeed, one after the other, and the last one
  wins. A save removes its own temporary folder; leftovers of other saves only while it
  holds the lock, which proves their owners are gone.

A load (``load_model``):

- returns exactly the params and metadata of one complete save, or raises: ``ValueError``
  saying the model is damaged for any change that would load something different
  (any value in ``metadata.json``, any byte under ``params/``, missing or extra files),
  ``ValueError`` naming both versions for another ``format_version``, and
  ``FileNotFoundError`` when there is nothing at the path;
- reads nothing unbounded: ``metadata.json`` must be a regular file of at most
  ``MAX_METADATA_BYTES`` with at most ``MAX_METADATA_ELEMENTS`` elements, nested at most
  ``MAX_JSON_DEPTH`` deep, both counted before parsing; shapes are
  held to ``MAX_PARAM_ELEMENTS`` before anything is allocated; the files under
  ``params/`` (at most ``MAX_PARAMS_BYTES``) are checked against the recorded names and
  sizes, then copied to a private temporary folder while their checksums are verified,
  and Orbax restores from that copy, so it only ever reads verified bytes;
- never unpickles, and runs concurrently with saves: if the folder is replaced while
  it is being read, the load starts again and returns the new model.

Not promised:

- Checksums detect damage and edits, not forgery: whoever rewrites a file and recomputes
  the checksums makes a model that loads. Loading still runs no code from the files.
- Network file systems may not honour ``flock`` across machines, atomic renames or fsync;
  the guarantees above are for local file systems.
- Without ``fcntl`` (Windows), saves from several processes to one path are not serialised:
  each is still atomic, but the loser of a race fails with an ``OSError``, and a save
  removes only its own temporary folders (leftovers of crashed saves stay; loads ignore them).
- Only savers that take the lock (this version onwards) are serialised.

Orbax is imported inside the functions that need it because importing it costs a
noticeable fraction of a second.

JSON export
-----------
The document (format ``"jaxlstm.forecaster"``) is::

    {"format": "jaxlstm.forecaster", "format_version": 2,
     "library": "jaxlstm", "library_version": "...",
     "metadata": {... the caller's metadata ...},
     "weights": {... params_to_json(params) ...},
     "document_sha256": "..."}

``document_sha256`` covers every other key (the canonical JSON of the document without
it), and ``weights`` carries a SHA-256 per leaf, so ``import_json`` refuses any edited
value with a ``ValueError`` saying the document is damaged. Weights are exact for every
float dtype. Nothing is unpickled; reading is bounded like every JSON read here (see
the JSON rules above).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import math
import os
import pathlib
import re
import shutil
import stat
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from jaxlstm._src.io import locking
from jaxlstm._src.io.locking import as_path, model_lock
from jaxlstm._src.version import __version__

# ------------------------------------------------------------ JSON

MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays/objects accepted in a JSON document (written or read)."""

DEFAULT_MAX_JSON_BYTES = 256 * 2**20
"""Default size limit of ``read_json``."""

_SCAN_BLOCK = 1 << 20  # bytes scanned per vectorised step: a few MB of temporaries at most
_BRACKETS = np.zeros(256, dtype=np.int8)
_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = -1

TMP_INFIX = ".tmp-"
"""Marks temporary files and folders of atomic writes: ``<name>.tmp-<32 hex digits>``."""

SEAL_KEY = "document_sha256"
"""Key under which ``seal`` stores a document's own checksum."""


# --------------------------------------------------------------------------- JSON text


def _json_default(value: Any) -> Any:
    # Numpy and JAX scalars (metrics, losses) are common in metadata; 0-d values become
    # Python numbers, anything bigger must be converted by the caller on purpose.
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
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


def json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[1]`` is 1, ``{"a": [1]}`` is 2); iterative."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def to_json_text(obj: Any, name: str, *, indent: int | None = 2) -> str:
    """Serialises ``obj`` as strict JSON with sorted keys, naming the offending entry on failure.

    Args:
      obj: dicts (string keys), lists, tuples, str, int, finite float, bool, None; numpy or
        JAX 0-d values are written as numbers.
      name: how to call ``obj`` in error messages (e.g. ``"metadata"``).
      indent: as in ``json.dumps``; ``None`` writes one line.

    Returns:
      The JSON text (with a final newline when indented).

    Raises:
      TypeError: an entry that is not JSON.
      ValueError: NaN/inf, or nesting deeper than ``MAX_JSON_DEPTH``.
    """
    depth = json_depth(obj)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{name} is nested {depth} levels deep; at most {MAX_JSON_DEPTH} are supported")
    try:
        text = json.dumps(obj, allow_nan=False, sort_keys=True, indent=indent, default=_json_default)
    except (TypeError, ValueError) as err:
        problem = _find_json_problem(obj, name)
        raise type(err)(problem or f"{name} cannot be written as JSON: {err}") from None
    return text + "\n" if indent is not None else text


def canonical_json(obj: Any) -> str:
    """The one canonical text of a JSON value: sorted keys, no whitespace, ASCII only.

    ``obj`` must hold plain JSON types (as returned by ``parse_json``); floats are written
    with ``repr`` precision, so parsing and re-serialising gives the same text.
    """
    return json.dumps(obj, allow_nan=False, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def json_sha256(obj: Any) -> str:
    """Hex SHA-256 of ``canonical_json(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-finite number {token} is not valid JSON")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"number {token[:40]} does not fit a finite float")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # only then look for the key given twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate object key {key!r}")
            seen.add(key)
    return out


def scan_json(raw: bytes, where: str, *, max_elements: int | None = None) -> None:
    """Refuses JSON text nested deeper than ``MAX_JSON_DEPTH`` or with too many elements, without parsing it.

    Brackets and commas inside strings are not counted. The text is scanned a block at a
    time with numpy, so the cost is a few passes over the bytes and a few MB of memory
    whatever the text holds. Text that is not JSON may pass; the parser then refuses it.

    Args:
      raw: the JSON text as UTF-8 bytes.
      where: what the text is, for error messages.
      max_elements: the most elements allowed, or None for no bound. Elements are
        counted as commas, colons, ``[`` and ``{`` outside strings: about one per value,
        array and object, and one more per object key (keys cost more to parse).

    Raises:
      ValueError: naming ``where`` and the bound exceeded.
    """
    if b"\\" in raw:
        # Escaped backslashes first, then escaped quotes: what is left of '"' opens or closes a string.
        raw = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    data = np.frombuffer(raw, dtype=np.uint8)
    depth = deepest = elements = 0
    in_string = False
    for start in range(0, data.shape[0], _SCAN_BLOCK):
        block = data[start : start + _SCAN_BLOCK]
        # A byte is outside strings when an even number of quotes precede it (a string's
        # closing quote included, which is no bracket or comma).
        inside = np.bitwise_xor.accumulate(block == ord('"'))
        if in_string:
            np.logical_not(inside, out=inside)
        in_string = bool(inside[-1])
        steps = np.where(inside, 0, _BRACKETS[block])
        levels = np.cumsum(steps, dtype=np.int64)
        deepest = max(deepest, depth + int(levels.max()))
        depth += int(levels[-1])
        separators = (block == ord(",")) | (block == ord(":"))
        elements += int(np.count_nonzero(steps == 1)) + int(np.count_nonzero(separators & ~inside))
        if deepest > MAX_JSON_DEPTH:
            raise ValueError(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels, more than is read here")
        if max_elements is not None and elements > max_elements:
            raise ValueError(
                f"{where} holds more than {max_elements} elements (values, keys, arrays and objects), "
                "more than is read here"
            )


def parse_json(text: str | bytes, where: str, *, max_elements: int | None = None) -> Any:
    """Parses strict JSON: finite numbers only, unique keys, nesting at most ``MAX_JSON_DEPTH``.

    Depth and size are checked by ``scan_json`` before anything is parsed.

    Args:
      text: the JSON text (bytes are decoded as UTF-8).
      where: what the text is, for error messages (e.g. ``"file 'm/metadata.json'"``).
      max_elements: the most elements (values, keys, arrays and objects) allowed, or None
        (see ``scan_json``).

    Returns:
      The parsed value (dict, list, str, int, float, bool or None).

    Raises:
      ValueError: ``"{where} is not valid JSON: ..."`` for any violation.
    """
    try:
        raw = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeEncodeError as err:  # a lone surrogate
        raise ValueError(f"{where} is not valid JSON: {err}") from None
    scan_json(raw, where, max_elements=max_elements)
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        del raw
        return json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys
        )
    except RecursionError:
        raise ValueError(f"{where} is not valid JSON here: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{where} is not valid JSON: {err}") from None


def seal(document: dict) -> dict:
    """Returns a copy of ``document`` with ``SEAL_KEY`` set to the checksum of everything else.

    ``document`` must hold plain JSON types; the checksum is ``json_sha256`` of the
    document without ``SEAL_KEY``, so it covers every key and value but not formatting.
    """
    body = {k: v for k, v in document.items() if k != SEAL_KEY}
    return {**body, SEAL_KEY: json_sha256(body)}


def verify_seal(document: dict, where: str) -> None:
    """Raises ValueError saying ``where`` is damaged unless ``document`` carries a matching seal."""
    claimed = document.get(SEAL_KEY)
    if not isinstance(claimed, str):
        raise ValueError(f"{where} is damaged: its checksum {SEAL_KEY!r} is missing")
    actual = json_sha256({k: v for k, v in document.items() if k != SEAL_KEY})
    if actual != claimed:
        raise ValueError(
            f"{where} is damaged: checksum mismatch (sha256 {actual[:16]}..., recorded {claimed[:16]}...); "
            "a value was changed after it was written"
        )


# --------------------------------------------------------------------------- files


def describe_mode(mode: int) -> str:
    """What a ``st_mode`` that is not a regular file is, in words ("a folder", "a FIFO" ...)."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: str | os.PathLike, *, max_bytes: int, follow_symlinks: bool = True) -> bytes:
    """Reads a whole regular file of at most ``max_bytes`` bytes, refusing anything else first.

    The file is opened without blocking (a FIFO cannot hang the open), checked with
    ``fstat`` to be a regular file no larger than ``max_bytes``, and at most
    ``max_bytes + 1`` bytes are read (a file growing meanwhile is refused too).

    Args:
      path: the file.
      max_bytes: the size limit.
      follow_symlinks: ``False`` refuses a symbolic link at ``path``.

    Returns:
      The file's bytes.

    Raises:
      FileNotFoundError: nothing at ``path``.
      ValueError: ``path`` is a folder, FIFO, device, socket, a symlink (when not
        followed) or larger than ``max_bytes``.
      OSError: other errors of the operating system (e.g. permission denied).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no file at path", str(path)) from None
    except IsADirectoryError:  # where a folder cannot even be opened
        raise ValueError(f"{str(path)!r} is a folder, not a file") from None
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_symlinks:
            raise ValueError(f"{str(path)!r} is a symbolic link, not a file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{str(path)!r} is {describe_mode(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{str(path)!r} holds {info.st_size} bytes, more than the limit of {max_bytes}")
        chunks = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise ValueError(f"{str(path)!r} grew past the limit of {max_bytes} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Makes the entries of folder ``path`` (renames, new files) durable where the OS allows it."""
    # Other systems cannot open a folder for syncing; their rename is the best available.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """fsyncs every file and folder under ``root`` (writers such as TensorStore do not)."""
    for folder, _, files in os.walk(os.fspath(root)):
        for fname in files:
            fd = os.open(os.path.join(folder, fname), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)


def write_file_synced(path: str | os.PathLike, data: str | bytes) -> None:
    """Creates the new file ``path`` (it must not exist), writes ``data`` (str as UTF-8) and fsyncs it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text_atomic(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Replaces the file ``path`` with ``text`` (UTF-8) so that readers see the old or the new file.

    The text goes to ``.<name>.tmp-<hex>`` in the same folder, is fsynced, renamed over
    ``path`` with ``os.replace`` and the folder is fsynced.

    Args:
      path: destination file; its folder must exist.
      text: the new content.

    Returns:
      The destination path.
    """
    path = pathlib.Path(path)
    tmp = path.parent / f".{path.name}{TMP_INFIX}{uuid.uuid4().hex}"
    try:
        write_file_synced(tmp, text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """Writes ``obj`` as strict JSON (sorted keys, indented) so readers never see a partial file.

    Args:
      path: destination file; its folder must exist.
      obj: JSON-able value; NaN/inf raise ValueError naming the entry.

    Returns:
      The destination path.
    """
    path = as_path(path)
    return write_text_atomic(path, to_json_text(obj, "obj"))


def read_json(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> Any:
    """Reads a strict JSON file (see ``parse_json``) of at most ``max_bytes`` bytes.

    Args:
      path: the file to read.
      max_bytes: size limit, checked before reading.

    Returns:
      The parsed value.

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: not a regular file, too large, or not valid UTF-8 strict JSON; the
        message names the file.
    """
    path = as_path(path)
    try:
        raw = read_regular_file(path, max_bytes=max_bytes)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no JSON file at path", str(path)) from None
    return parse_json(raw, f"file {str(path)!r}")


# ------------------------------------------------------------ params trees

PARAMS_JSON_FORMAT = "jaxlstm.params"
"""Value of the ``format`` key in ``params_to_json`` documents."""

PARAMS_JSON_FORMAT_VERSION = 1
"""Version of the ``params_to_json`` document layout."""

MAX_PARAM_ELEMENTS = 1 << 28
"""Most array elements a params tree may hold in total (1 GiB of float32).

Saving refuses larger trees and loading refuses descriptions that claim more, before
anything is allocated, so a damaged shape such as ``[1000000, 1000000]`` is an error,
not a ``MemoryError``.
"""

MAX_TREE_DEPTH = 16
"""Deepest nesting of dicts, lists and tuples in a params tree."""

MAX_NDIM = 16
"""Most dimensions of one leaf."""

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
# Only plain numeric dtypes: anything else (object, strings, PRNG keys) either cannot
# be stored without pickle or does not round-trip through JSON exactly.
SUPPORTED_DTYPES = (
    "bool",
    *(f"int{b}" for b in (8, 16, 32, 64)),
    *(f"uint{b}" for b in (8, 16, 32, 64)),
    *FLOAT_DTYPES,
)


def dtype_from_name(name: Any, where: str) -> np.dtype:
    """Returns the numpy dtype for a supported dtype name, or raises ValueError naming ``where``."""
    if not isinstance(name, str) or name not in SUPPORTED_DTYPES:
        raise ValueError(f"{where}: dtype must be one of {', '.join(SUPPORTED_DTYPES)}, got {name!r:.80}")
    if name == "bfloat16":
        import ml_dtypes  # ships with jax; registers the bfloat16 name with numpy

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _join(prefix: str, key: str | int) -> str:
    return f"{prefix}/{key}" if prefix else str(key)


def _label(where: str) -> str:
    return where or "the root"


def canonical_leaf(value: Any, where: str, *, check_finite: bool = True) -> np.ndarray:
    """Converts one params leaf to a C-contiguous, native-order numpy array and checks it.

    Raises:
      TypeError: not an array of numbers.
      ValueError: unsupported dtype, zero size, or NaN/inf when ``check_finite``.
    """
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"params leaf {where!r} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as err:  # typed PRNG keys and other exotic jax arrays refuse conversion
        raise TypeError(
            f"params leaf {where!r} cannot be read as a numpy array ({type(value).__name__}): {err}"
        ) from None
    dtype = dtype_from_name(arr.dtype.name, f"params leaf {where!r}")
    if arr.size == 0:
        # Orbax refuses zero-size arrays; failing here keeps the error before any write.
        raise ValueError(f"params leaf {where!r} has zero size (shape {arr.shape}); empty arrays cannot be saved")
    arr = np.asarray(arr, dtype=dtype, order="C")  # ascontiguousarray would turn 0-d into 1-d
    if check_finite and dtype.name in FLOAT_DTYPES and not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"params leaf {where!r} holds {bad} non-finite value(s) (NaN or inf); refusing to save it")
    return arr


def _canonical(node: Any, where: str, depth: int) -> Any:
    if isinstance(node, (dict, list, tuple)) and depth > MAX_TREE_DEPTH:
        raise ValueError(f"params are nested deeper than {MAX_TREE_DEPTH} levels at {_label(where)!r}")
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            if not isinstance(key, str) or not key or "/" in key:
                raise TypeError(f"params keys must be non-empty strings without '/', got {key!r} at {_label(where)!r}")
            out[key] = _canonical(child, _join(where, key), depth + 1)
        return out
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        raise TypeError(
            f"params node {_label(where)!r} is a {type(node).__name__} (NamedTuple); "
            "only dicts, lists and tuples are supported, convert it with ._asdict()"
        )
    if isinstance(node, (list, tuple)):
        kind = list if isinstance(node, list) else tuple
        return kind(_canonical(child, _join(where, i), depth + 1) for i, child in enumerate(node))
    return canonical_leaf(node, _label(where))


def canonical_tree(params: Any) -> Any:
    """Copies a params tree with every leaf as a checked numpy array.

    Args:
      params: nested dicts, lists and tuples of finite, non-empty numeric arrays.

    Returns:
      The same nesting with C-contiguous numpy leaves.

    Raises:
      TypeError: params is not a dict, list or tuple; a bad key or leaf type.
      ValueError: NaN/inf, zero-size leaves, no leaves at all, nesting deeper than
        ``MAX_TREE_DEPTH`` or more than ``MAX_PARAM_ELEMENTS`` elements.
    """
    if not isinstance(params, (dict, list, tuple)):
        raise TypeError(f"params must be a dict, list or tuple of arrays, got {type(params).__name__}")
    tree = _canonical(params, "", 1)
    sizes = [leaf.size for _, leaf in iter_leaves(tree)]
    if not sizes:
        raise ValueError("params holds no arrays; there is nothing to save")
    if sum(sizes) > MAX_PARAM_ELEMENTS:
        raise ValueError(f"params hold {sum(sizes)} elements, more than the supported {MAX_PARAM_ELEMENTS}")
    return tree


def iter_leaves(tree: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Yields ``(path, leaf)`` for every leaf of a dict/list/tuple tree, dict keys sorted.

    Paths join keys and list indices with ``/``, e.g. ``"layers/0/w"``.
    """
    if isinstance(tree, dict):
        for key in sorted(tree):
            yield from iter_leaves(tree[key], _join(where, key))
    elif isinstance(tree, (list, tuple)):
        for i, child in enumerate(tree):
            yield from iter_leaves(child, _join(where, i))
    else:
        yield where, tree


def describe(tree: Any, *, with_data: bool = False) -> dict:
    """Describes a canonical tree as JSON: nesting, shapes, dtypes (and values if asked).

    Returns:
      ``{"kind": "dict", "children": {...}}``, ``{"kind": "list"|"tuple", "children": [...]}``
      or, for a leaf, ``{"kind": "array", "shape": [...], "dtype": name}`` plus ``"data"``
      (nested lists) when ``with_data``.
    """
    if isinstance(tree, dict):
        return {"kind": "dict", "children": {k: describe(v, with_data=with_data) for k, v in tree.items()}}
    if isinstance(tree, (list, tuple)):
        kind = "list" if isinstance(tree, list) else "tuple"
        return {"kind": kind, "children": [describe(v, with_data=with_data) for v in tree]}
    leaf = {"kind": "array", "shape": list(tree.shape), "dtype": tree.dtype.name}
    if with_data:
        # float64 Python floats hold every float16/bfloat16/float32 value exactly, and
        # json writes them with repr precision, so reading them back is bit-exact.
        values = tree.astype(np.float64) if tree.dtype.name in FLOAT_DTYPES else tree
        leaf["data"] = values.tolist()
    return leaf


MakeLeaf = Callable[[dict, tuple[int, ...], np.dtype, str], Any]


def rebuild(description: Any, make_leaf: MakeLeaf, *, max_elements: int = MAX_PARAM_ELEMENTS) -> Any:
    """Rebuilds a tree from a ``describe`` output, checking it before any leaf is made.

    Every shape is checked (a list of at most ``MAX_NDIM`` integers >= 1) and the total
    element count is held to ``max_elements`` before ``make_leaf`` is called for any leaf.

    Args:
      description: the JSON description (dict, list or tuple at the root).
      make_leaf: ``make_leaf(leaf_description, shape, dtype, path) -> leaf``.
      max_elements: element budget of the whole tree.

    Returns:
      The rebuilt tree.

    Raises:
      ValueError: a malformed description, naming the place.
    """
    leaves: list[tuple[dict, tuple[int, ...], np.dtype, str]] = []

    def check(node: Any, where: str, depth: int) -> None:
        label = _label(where)
        if not isinstance(node, dict) or "kind" not in node:
            raise ValueError(f"params structure at {label!r} must be an object with a 'kind', got {node!r:.80}")
        kind = node["kind"]
        if kind in ("dict", "list", "tuple"):
            if depth > MAX_TREE_DEPTH:
                raise ValueError(f"params structure is nested deeper than {MAX_TREE_DEPTH} levels at {label!r}")
            children = node.get("children")
            if kind == "dict":
                if not isinstance(children, dict):
                    raise ValueError(f"params structure at {label!r}: 'children' must be an object")
                for key, child in children.items():
                    if not key or "/" in key:
                        raise ValueError(f"params structure at {label!r}: bad key {key!r:.80}")
                    check(child, _join(where, key), depth + 1)
            else:
                if not isinstance(children, list):
                    raise ValueError(f"params structure at {label!r}: 'children' must be a list")
                for i, child in enumerate(children):
                    check(child, _join(where, i), depth + 1)
            return
        if kind != "array":
            raise ValueError(
                f"params structure at {label!r}: kind must be dict, list, tuple or array, got {kind!r:.80}"
            )
        shape = node.get("shape")
        if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(type(d) is int and d >= 1 for d in shape):
            raise ValueError(
                f"params structure at {label!r}: shape must be a list of at most {MAX_NDIM} integers >= 1, "
                f"got {shape!r:.80}"
            )
        dtype = dtype_from_name(node.get("dtype"), f"params structure at {label!r}")
        leaves.append((node, tuple(shape), dtype, where))

    if not isinstance(description, dict) or description.get("kind") not in ("dict", "list", "tuple"):
        raise ValueError("params structure must describe a dict, list or tuple at the root")
    check(description, "", 1)
    total = sum(int(np.prod(shape, dtype=object)) for _, shape, _, _ in leaves)
    if not leaves:
        raise ValueError("params structure holds no arrays")
    if total > max_elements:
        raise ValueError(f"params structure claims {total} elements, more than the budget of {max_elements}")
    made = {where: make_leaf(node, shape, dtype, where) for node, shape, dtype, where in leaves}

    def assemble(node: dict, where: str) -> Any:
        kind = node["kind"]
        if kind == "dict":
            return {k: assemble(v, _join(where, k)) for k, v in node["children"].items()}
        if kind in ("list", "tuple"):
            items = [assemble(v, _join(where, i)) for i, v in enumerate(node["children"])]
            return items if kind == "list" else tuple(items)
        return made[where]

    return assemble(description, "")


def abstract_tree(description: Any, *, max_elements: int = MAX_PARAM_ELEMENTS) -> Any:
    """A tree of uninitialised numpy arrays with the shapes and dtypes of ``description``."""
    return rebuild(description, lambda _node, shape, dtype, _where: np.empty(shape, dtype), max_elements=max_elements)


def check_matches(restored: Any, expected: Any, where: str = "") -> None:
    """Raises ValueError unless ``restored`` has the nesting, shapes and dtypes of ``expected``."""
    label = _label(where)
    if isinstance(expected, dict):
        if not isinstance(restored, dict) or set(restored) != set(expected):
            got = sorted(restored) if isinstance(restored, dict) else type(restored).__name__
            raise ValueError(f"params at {label!r}: expected keys {sorted(expected)}, got {got}")
        for key in expected:
            check_matches(restored[key], expected[key], _join(where, key))
    elif isinstance(expected, (list, tuple)):
        if type(restored) is not type(expected) or len(restored) != len(expected):
            raise ValueError(
                f"params at {label!r}: expected a {type(expected).__name__} of {len(expected)} items, "
                f"got {type(restored).__name__} {restored!r:.80}"
            )
        for i, (r, e) in enumerate(zip(restored, expected)):
            check_matches(r, e, _join(where, i))
    else:
        if not isinstance(restored, np.ndarray):
            raise ValueError(f"params leaf {label!r}: expected a numpy array, got {type(restored).__name__}")
        if restored.shape != expected.shape or restored.dtype != expected.dtype:
            raise ValueError(
                f"params leaf {label!r}: expected {expected.dtype.name}{list(expected.shape)}, "
                f"got {restored.dtype.name}{list(restored.shape)}"
            )


def leaf_sha256(arr: np.ndarray) -> str:
    """Hex SHA-256 of one canonical leaf: its dtype name, shape and little-endian bytes."""
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


def leaf_checksums(params: Any) -> dict[str, str]:
    """Computes a SHA-256 per leaf of a params tree.

    Each digest covers the dtype name, the shape and the little-endian bytes of the
    leaf as a C-contiguous numpy array, so it is the same on every machine.

    Args:
      params: nested dicts (string keys), lists and tuples of arrays.

    Returns:
      Leaf path (keys and list indices joined by ``/``, e.g. ``"layers/0/w"``) -> hex digest.
    """
    return {path: leaf_sha256(canonical_leaf(leaf, path, check_finite=False)) for path, leaf in iter_leaves(params)}


def verify_leaf_checksums(params: Any, expected: Any, source: str) -> None:
    """Raises ValueError saying ``source`` is damaged unless every leaf's SHA-256 is ``expected``.

    Args:
      params: the restored tree.
      expected: leaf path -> hex digest, as recorded at save time (missing is an error).
      source: what is being verified, for messages (e.g. ``"model at 'm'"``).
    """
    if not isinstance(expected, dict) or not expected:
        raise ValueError(
            f"{source} is damaged: params_sha256 must be a non-empty object of leaf path -> hex digest, "
            f"got {expected!r:.80}"
        )
    actual = leaf_checksums(params)
    if set(actual) != set(expected):
        missing = sorted(set(actual) - set(expected))
        extra = sorted(set(expected) - set(actual))
        raise ValueError(
            f"{source} is damaged: params_sha256 does not list the saved leaves (missing {missing}, unexpected {extra})"
        )
    for key, digest in actual.items():
        if digest != expected[key]:
            raise ValueError(
                f"{source} is damaged: checksum mismatch for params leaf {key!r} "
                f"(sha256 {digest[:16]}..., recorded {str(expected[key])[:16]}...)"
            )


def params_to_json(params: Any) -> dict:
    """Exports a params tree as a JSON-able dict of nested lists, exact for every float dtype.

    Args:
      params: nested dicts, lists and tuples of finite numeric arrays (see ``canonical_tree``).

    Returns:
      ``{"format": "jaxlstm.params", "format_version": 1, "params": tree, "params_sha256":
      {...}}``; each leaf of ``tree`` is ``{"kind": "array", "dtype", "shape", "data"}``.
    """
    tree = canonical_tree(params)
    return {
        "format": PARAMS_JSON_FORMAT,
        "format_version": PARAMS_JSON_FORMAT_VERSION,
        "params": describe(tree, with_data=True),
        "params_sha256": {p: leaf_sha256(leaf) for p, leaf in iter_leaves(tree)},
    }


def params_from_json(obj: Any, *, max_elements: int = MAX_PARAM_ELEMENTS) -> Any:
    """Rebuilds a params tree from ``params_to_json`` output and verifies every leaf's checksum.

    Args:
      obj: the dict made by ``params_to_json`` (e.g. parsed by ``read_json``).
      max_elements: element budget; larger claimed shapes are refused before conversion.

    Returns:
      The params tree with numpy array leaves of the exported dtypes and shapes.

    Raises:
      ValueError: wrong format or version, malformed leaves, non-finite values, a missing
        ``params_sha256`` or a checksum mismatch (the message names the leaf).
    """
    if not isinstance(obj, dict) or obj.get("format") != PARAMS_JSON_FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"obj must be a {PARAMS_JSON_FORMAT!r} document from params_to_json, got format {got!r:.80}")
    version = obj.get("format_version")
    if version != PARAMS_JSON_FORMAT_VERSION:
        raise ValueError(
            f"obj has format_version {version!r:.20}; the supported format_version is {PARAMS_JSON_FORMAT_VERSION}"
        )
    if "params_sha256" not in obj:
        raise ValueError("params JSON is damaged: params_sha256 is missing, so the values cannot be verified")

    def make_leaf(desc: dict, shape: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
        if "data" not in desc:
            raise ValueError(f"params leaf {where!r} has no 'data'")
        try:
            with np.errstate(over="raise", invalid="raise"):
                arr = np.array(desc["data"], dtype=dtype)
        except (TypeError, ValueError, OverflowError, FloatingPointError) as err:
            raise ValueError(f"params leaf {where!r}: data cannot be read as {dtype.name}: {err}") from None
        if arr.shape != shape:
            raise ValueError(f"params leaf {where!r}: data has shape {list(arr.shape)}, expected {list(shape)}")
        return canonical_leaf(arr, where)

    try:
        params = rebuild(obj.get("params"), make_leaf, max_elements=max_elements)
    except ValueError as err:
        raise ValueError(f"params JSON is damaged: {err}") from None
    verify_leaf_checksums(params, obj["params_sha256"], "params JSON")
    return params


# ------------------------------------------------------------ model folders

FORMAT_VERSION = 2
"""Version of the saved model layout (folders and JSON exports); 2 added the document checksum."""

LIBRARY_NAME = "jaxlstm"

METADATA_FILE = "metadata.json"
PARAMS_DIR = "params"

MAX_METADATA_BYTES = 16 * 2**20
"""Largest ``metadata.json`` that ``load_model`` reads (and ``save_model`` writes).

A default forecaster's is about 6 MB (calibration residuals: at most 1000 origins of 168
steps per calibration source), so this leaves room while bounding what a hostile file costs."""

MAX_METADATA_ELEMENTS = 500_000
"""Most elements (values, keys, arrays and objects; see ``scan_json``) in a
``metadata.json``, counted before it is parsed: a default forecaster's holds about 220,000.
Refusing any file over a bound costs well under a second and 200 MB."""

MAX_PARAMS_BYTES = 4 * 2**30
"""Largest total size of the files under ``params/`` that ``load_model`` reads."""

RESERVED_METADATA_KEYS = (
    "format_version",
    "library",
    "library_version",
    "params_structure",
    "params_sha256",
    "params_files",
    SEAL_KEY,
)
"""Keys computed by ``save_model``; values passed under these names are replaced, so metadata
returned by ``load_model`` can be passed straight back to ``save_model``."""

BAK_INFIX = ".bak-"
_HEX_SUFFIX = r"[0-9a-f]{32}"
_SIBLING_RE = re.compile(rf"(?P<name>.+)(?P<kind>\.tmp-|\.bak-)(?P<hex>{_HEX_SUFFIX})")

_LOAD_ATTEMPTS = 4


def caller_metadata(metadata: Any) -> dict:
    """``metadata`` without the keys this layer computes (see ``RESERVED_METADATA_KEYS``)."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    return {k: v for k, v in metadata.items() if k not in RESERVED_METADATA_KEYS}


def check_document(document: dict, where: str) -> None:
    """Raises ValueError unless ``document`` is a sealed jaxlstm document of ``FORMAT_VERSION``.

    The format version is checked first, so a model of another version is named as such
    (format 1 had no document checksum); then the checksum, so any edit reads as damage.
    """
    version, library = document.get("format_version"), document.get("library")
    if isinstance(version, bool) or not isinstance(version, int):
        if library != LIBRARY_NAME:
            raise ValueError(f"{where} is not a jaxlstm model (library {library!r:.80}, expected {LIBRARY_NAME!r})")
        raise ValueError(f"{where} is damaged: format_version must be an integer, got {version!r:.80}")
    if version != FORMAT_VERSION:
        if version < FORMAT_VERSION:
            age, hint = "older", "; it was written by an older jaxlstm: train the model again and save it with this one"
        else:
            age, hint = "newer", "; upgrade jaxlstm to read it"
        raise ValueError(
            f"{where} has format_version {version}, {age} than the supported format_version {FORMAT_VERSION}{hint}"
        )
    verify_seal(document, where)
    if library != LIBRARY_NAME:
        raise ValueError(f"{where} is not a jaxlstm model (library {library!r:.80}, expected {LIBRARY_NAME!r})")


# --------------------------------------------------------------------------- Orbax


_ORBAX_VIEW = threading.Lock()


@contextlib.contextmanager
def _checkpointer() -> Iterator[Any]:
    """An Orbax checkpointer for a model that this process alone writes or reads.

    In a multi-process JAX job (``jax.distributed``) Orbax treats every checkpoint as one
    shared by all processes: process 0 alone writes numpy arrays and every process waits at
    barriers. A model belongs to the process that fitted it while the others are busy with
    their own, so for the duration of the call Orbax is shown this process as the only
    one (process 0 of a single active process): it writes everything itself and waits for
    nobody. A single-process run is left as it is.
    """
    import jax
    import orbax.checkpoint as ocp

    options = ocp.options.MultiprocessingOptions(primary_host=0, active_processes={0})
    handler = ocp.StandardCheckpointHandler(multiprocessing_options=options)
    if jax.process_count() == 1:
        with ocp.Checkpointer(handler, multiprocessing_options=options) as checkpointer:
            yield checkpointer
        return
    try:
        from orbax.checkpoint._src.multihost import multihost
    except ImportError as err:
        raise RuntimeError(
            f"this orbax-checkpoint version cannot save a model from one process of a multi-process job: {err}"
        ) from None
    with _ORBAX_VIEW:
        process_index = multihost.process_index
        multihost.process_index = lambda: 0
        try:
            with ocp.Checkpointer(handler, multiprocessing_options=options) as checkpointer:
                yield checkpointer
        finally:
            multihost.process_index = process_index


def _save_params_orbax(directory: pathlib.Path, params: Any) -> None:
    """Writes ``params`` with Orbax's StandardSave; returns once everything is written."""
    import orbax.checkpoint as ocp

    # Checkpointer (unlike AsyncCheckpointer/CheckpointManager) is synchronous: save()
    # returns after the files are written and committed.
    with _checkpointer() as checkpointer:
        checkpointer.save(directory.absolute(), args=ocp.args.StandardSave(params))


def _restore_params_orbax(directory: pathlib.Path, target: Any) -> Any:
    """Restores the tree at ``directory`` into the structure and dtypes of ``target``.

    Only called on a private copy of files verified against ``params_files``. When Orbax
    fails on a damaged file, the TensorStore reads still in flight complete after Orbax
    has closed its event loop, and each prints a "RuntimeError: Event loop is closed"
    traceback on stderr that nothing in Python can catch; verified input avoids that.
    """
    import orbax.checkpoint as ocp

    with _checkpointer() as checkpointer:
        return checkpointer.restore(directory.absolute(), args=ocp.args.StandardRestore(target))


# --------------------------------------------------------------------------- the params/ file list


def _read_file(path: pathlib.Path, size: int, copy_to: pathlib.Path | None = None) -> str:
    """SHA-256 of a regular file that must hold exactly ``size`` bytes; optionally copies the bytes read.

    Symbolic links are not followed. Copying what was hashed means the copy holds exactly
    the verified bytes, whatever happens to the original meanwhile.
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{str(path)!r} is not a regular file")
        with open(copy_to, "xb") if copy_to is not None else contextlib.nullcontext() as out:
            read = 0
            while read <= size:
                chunk = os.read(fd, min(size + 1 - read, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
                read += len(chunk)
    finally:
        os.close(fd)
    if read != size:
        raise ValueError(f"{str(path)!r} changed size while being read")
    return digest.hexdigest()


def _list_files(root: pathlib.Path) -> dict[str, int]:
    """Relative POSIX path -> size of every file under ``root``; refuses links and special files."""
    files: dict[str, int] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                rel = pathlib.Path(entry.path).relative_to(root).as_posix()
                if stat.S_ISDIR(info.st_mode):
                    stack.append(pathlib.Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    files[rel] = info.st_size
                else:
                    raise ValueError(f"{PARAMS_DIR}/{rel} is {describe_mode(info.st_mode)}, not a file")
    return files


def _params_files(root: pathlib.Path) -> dict[str, dict[str, Any]]:
    """The ``params_files`` record of a freshly written ``params/`` folder."""
    return {
        rel: {"size": size, "sha256": _read_file(root / rel, size)} for rel, size in sorted(_list_files(root).items())
    }


def _copy_verified_params(root: pathlib.Path, expected: Any, dest: pathlib.Path) -> None:
    """Copies ``root`` to ``dest`` if it holds exactly the files, sizes and checksums in ``expected``.

    Orbax then restores from ``dest``: it only ever reads verified bytes, which no
    concurrent save or damage can change. Raises ValueError (the caller says where).
    """
    if not isinstance(expected, dict) or not expected:
        raise ValueError(f"params_files must be a non-empty object of file -> size and sha256, got {expected!r:.80}")
    for rel, record in expected.items():
        valid = (
            isinstance(record, dict)
            and type(record.get("size")) is int
            and record["size"] >= 0
            and isinstance(record.get("sha256"), str)
        )
        if not valid:
            raise ValueError(f"params_files[{rel!r:.80}] must be {{'size': int, 'sha256': str}}, got {record!r:.80}")
    if not root.is_dir() or root.is_symlink():
        raise ValueError(f"the {PARAMS_DIR}/ folder is missing")
    actual = _list_files(root)
    if set(actual) != set(expected):
        missing = sorted(set(expected) - set(actual))[:5]
        extra = sorted(set(actual) - set(expected))[:5]
        raise ValueError(f"{PARAMS_DIR}/ does not hold the saved files (missing {missing}, unexpected {extra})")
    if sum(actual.values()) > MAX_PARAMS_BYTES:
        raise ValueError(f"{PARAMS_DIR}/ holds {sum(actual.values())} bytes, more than the limit of {MAX_PARAMS_BYTES}")
    for rel, size in sorted(actual.items()):
        if size != expected[rel]["size"]:
            raise ValueError(f"{PARAMS_DIR}/{rel} holds {size} bytes, {expected[rel]['size']} were saved")
    for rel, size in sorted(actual.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if _read_file(root / rel, size, copy_to=target) != expected[rel]["sha256"]:
            raise ValueError(f"checksum mismatch for {PARAMS_DIR}/{rel}")


# --------------------------------------------------------------------------- swapping folders


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` on Linux, else None (other systems, old or other C libraries)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def _exchange(a: pathlib.Path, b: pathlib.Path) -> bool:
    """Atomically swaps the entries ``a`` and ``b`` (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns:
      True when swapped; False where the platform or file system cannot swap (then
      nothing changed).
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # a kernel, file system or sandbox without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def is_model_folder(path: pathlib.Path) -> bool:
    """True for a folder that looks like a saved model (not a temporary or backup sibling)."""
    return (path / METADATA_FILE).is_file() and _SIBLING_RE.fullmatch(path.name) is None


def _siblings(path: pathlib.Path, *infixes: str) -> dict[str, list[pathlib.Path]]:
    """``{infix: entries}`` next to ``path`` named ``<name><infix><32 hex digits>``, from one listing.

    A save lists its folder, which may hold thousands of models: names are filtered by
    their prefix as ``os.scandir`` yields them, before a path is made or a pattern run
    (a ``pathlib`` listing of 20,000 entries cost more than the save itself).
    """
    found: dict[str, list[pathlib.Path]] = {infix: [] for infix in infixes}
    patterns = {infix: re.compile(re.escape(path.name + infix) + _HEX_SUFFIX) for infix in infixes}
    try:
        with os.scandir(path.parent) as entries:
            names = [entry.name for entry in entries if entry.name.startswith(path.name)]
    except FileNotFoundError:
        return found
    for name in names:
        for infix, pattern in patterns.items():
            if pattern.fullmatch(name):
                found[infix].append(path.parent / name)
    return found


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


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


def _newest(paths: list[pathlib.Path]) -> pathlib.Path | None:
    dated = []
    for p in paths:
        try:
            dated.append((p.stat().st_mtime_ns, p.name, p))
        except OSError:  # removed meanwhile
            continue
    return max(dated)[2] if dated else None


def _swap_in(tmp: pathlib.Path, path: pathlib.Path) -> pathlib.Path | None:
    """Puts the complete folder ``tmp`` at ``path``; returns the folder now holding the old model, if any."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return None
    if _exchange(tmp, path):
        return tmp
    backup = path.parent / f"{path.name}{BAK_INFIX}{uuid.uuid4().hex}"
    os.rename(path, backup)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(backup, path)
        raise
    return backup


# --------------------------------------------------------------------------- save


def save_model(
    path: str | os.PathLike, params: Any, metadata: dict, *, lock_timeout: float | None = None
) -> pathlib.Path:
    """Saves params and metadata as a model folder, atomically replacing any previous model.

    See the module's Guarantees. Everything is validated before anything is written.

    Args:
      path: the model folder to create or replace. An existing folder is replaced only
        if it is empty or holds nothing but ``metadata.json`` and ``params``.
      params: nested dicts (non-empty string keys without ``/``), lists and tuples whose
        leaves are numpy/JAX arrays or numbers of a bool, integer or float dtype (float16,
        bfloat16, float32, float64), all finite and non-empty.
      metadata: JSON-able dict (config, encoding, symbol, metrics ...). Numpy/JAX scalars
        are stored as numbers. Keys in ``RESERVED_METADATA_KEYS`` are computed here and
        replace any value passed under those names.
      lock_timeout: seconds to wait for a concurrent save to the same path (see
        ``model_lock``); ``None`` waits as long as it takes.

    Returns:
      The model folder's path.

    Raises:
      TypeError: a params leaf or metadata entry of an unsupported type.
      ValueError: NaN/inf in params or metadata, empty params or an unusable path name.
      FileExistsError: ``path`` exists and is not a model folder.
      TimeoutError: the path stayed locked for ``lock_timeout`` seconds.
    """
    path = as_path(path)
    if path.name in ("", ".", "..") or _SIBLING_RE.fullmatch(path.name):
        raise ValueError(
            f"path {str(path)!r} cannot be a model folder: the name must not be empty, '.', '..', "
            "or look like a temporary/backup folder of save_model"
        )
    document = caller_metadata(metadata)
    tree = canonical_tree(params)
    document.update(
        format_version=FORMAT_VERSION,
        library=LIBRARY_NAME,
        library_version=__version__,
        params_structure=describe(tree),
        params_sha256={p: leaf_sha256(leaf) for p, leaf in iter_leaves(tree)},
    )
    # Through text and back: the checksum is computed over exactly what a load will parse.
    document = parse_json(
        to_json_text(document, "metadata", indent=None), "metadata", max_elements=MAX_METADATA_ELEMENTS
    )

    with model_lock(path, timeout=lock_timeout):
        _check_replaceable(path)
        parent = path.parent
        # A lock across processes proves no other save is running: these are leftovers of
        # saves that died. A missing model with a backup means a save died mid-swap; the
        # backup is the last good model, so it goes back before anything else happens.
        # A lock of this process only proves nothing about other processes' folders.
        stale_backups: list[pathlib.Path] = []
        if locking.PROCESS_LOCKS:
            leftovers = _siblings(path, TMP_INFIX, BAK_INFIX)
            for stale in leftovers[TMP_INFIX]:
                _remove(stale)
            backup = _newest([p for p in leftovers[BAK_INFIX] if p.is_dir()])
            restored = None
            if backup is not None and not os.path.lexists(path):
                os.rename(backup, path)
                fsync_dir(parent)
                restored = backup
            # Held by the lock, no other save makes a backup of this path: the ones there
            # now (but the one just put back) are all there are until this save's own.
            stale_backups = [p for p in leftovers[BAK_INFIX] if p != restored]

        tmp = parent / f"{path.name}{TMP_INFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _save_params_orbax(tmp / PARAMS_DIR, tree)
            fsync_tree(tmp / PARAMS_DIR)
            document["params_files"] = _params_files(tmp / PARAMS_DIR)
            text = to_json_text(seal(document), "metadata")
            if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
                raise ValueError(
                    f"metadata takes {len(text.encode('utf-8'))} bytes as {METADATA_FILE}, more than the "
                    f"{MAX_METADATA_BYTES} that load_model reads; store less in it"
                )
            # metadata.json last: a folder without it never loads, even under its final name.
            write_file_synced(tmp / METADATA_FILE, text)
            fsync_dir(tmp)
            old = _swap_in(tmp, path)
        except BaseException:
            _remove(tmp)
            raise
        fsync_dir(parent)
        if old is not None:
            _remove(old)
        for stale in stale_backups:
            _remove(stale)
    return path


# --------------------------------------------------------------------------- load


def _identity(path: pathlib.Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _read_metadata(path: pathlib.Path, where: str) -> dict:
    try:
        raw = read_regular_file(path / METADATA_FILE, max_bytes=MAX_METADATA_BYTES, follow_symlinks=False)
    except FileNotFoundError:
        raise ValueError(f"{where} is damaged or incomplete: {METADATA_FILE} is missing") from None
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    try:
        document = parse_json(raw, METADATA_FILE, max_elements=MAX_METADATA_ELEMENTS)
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{where} is damaged: {METADATA_FILE} must hold a JSON object, got {type(document).__name__}")
    return document


def _load_folder(path: pathlib.Path) -> tuple[Any, dict]:
    """Loads and verifies the model folder at ``path`` once."""
    where = f"model at {str(path)!r}"
    sibling = _SIBLING_RE.fullmatch(path.name)
    if sibling and sibling.group("kind") == TMP_INFIX:
        raise ValueError(f"{where} is a temporary folder of an unfinished save_model, not a model")
    if not path.is_dir():
        raise ValueError(
            f"{where} is not a folder; a saved model is a folder holding {METADATA_FILE} and {PARAMS_DIR}/"
        )
    document = _read_metadata(path, where)
    check_document(document, where)
    with tempfile.TemporaryDirectory(prefix="jaxlstm-load-") as snapshot:
        verified = pathlib.Path(snapshot) / PARAMS_DIR
        try:
            expected = abstract_tree(document.get("params_structure"))
            _copy_verified_params(path / PARAMS_DIR, document.get("params_files"), verified)
        except ValueError as err:
            raise ValueError(f"{where} is damaged: {err}") from None
        try:
            params = _restore_params_orbax(verified, expected)
        except Exception as err:  # Orbax/TensorStore raise ValueError, OSError, KeyError ... for bad files
            raise ValueError(
                f"{where} is damaged: {PARAMS_DIR}/ cannot be restored: {type(err).__name__}: {err}"
            ) from err
    try:
        check_matches(params, expected)
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    verify_leaf_checksums(params, document.get("params_sha256"), where)
    return params, document


def _load_consistent(path: pathlib.Path) -> tuple[Any, dict]:
    """``_load_folder``, started again when a concurrent save replaced the folder meanwhile."""
    for attempt in range(_LOAD_ATTEMPTS):
        before = _identity(path)
        try:
            return _load_folder(path)
        except (ValueError, OSError):
            after = _identity(path)
            if attempt + 1 == _LOAD_ATTEMPTS or before is None or after is None or before == after:
                raise
    raise AssertionError("unreachable")


def load_model(path: str | os.PathLike) -> tuple[Any, dict]:
    """Loads a model folder written by ``save_model`` and verifies every byte of it.

    See the module's Guarantees. If ``path`` is missing but a complete backup
    ``<name>.bak-<hex>`` exists (a save was interrupted between its two renames, on
    systems without an atomic exchange), the newest backup is loaded and a
    ``RuntimeWarning`` names it.

    Args:
      path: the model folder.

    Returns:
      ``(params, metadata)``: params with the saved nesting (dicts, lists, tuples) and
      numpy array leaves of the saved shapes and dtypes; metadata is the whole
      ``metadata.json`` document, the caller's keys plus ``RESERVED_METADATA_KEYS``.

    Raises:
      FileNotFoundError: nothing at ``path`` and no backup of it.
      ValueError: the model is damaged (the message says so and names what), or has
        another ``format_version``.
    """
    path = as_path(path)
    if os.path.lexists(path):
        return _load_consistent(path)
    backup = _newest([p for p in _siblings(path, BAK_INFIX)[BAK_INFIX] if p.is_dir()])
    if backup is None:
        raise FileNotFoundError(errno.ENOENT, "no model at path", str(path))
    warnings.warn(
        f"no model at {str(path)!r}; loading {str(backup)!r}, the previous model left by a "
        "save_model that was interrupted while swapping folders (or is swapping them right now)",
        RuntimeWarning,
        stacklevel=2,
    )
    try:
        return _load_folder(backup)
    except (OSError, ValueError):
        # A concurrent save may have finished and deleted the backup meanwhile.
        if path.is_dir():
            return _load_consistent(path)
        raise


# ------------------------------------------------------------ JSON export

EXPORT_FORMAT = "jaxlstm.forecaster"
"""Value of the ``format`` key of documents written by ``export_json``."""

MAX_EXPORT_BYTES = DEFAULT_MAX_JSON_BYTES
"""Default size limit of ``import_json``."""


def export_json(params: Any, metadata: dict, path: str | os.PathLike | None = None) -> str:
    """Exports params and metadata as one sealed JSON document.

    Args:
      params: a params tree as accepted by ``save_model``.
      metadata: JSON-able dict; keys in ``RESERVED_METADATA_KEYS`` are
        dropped (so ``export_json(*load_model(p))`` works).
      path: also write the document there, atomically, when given.

    Returns:
      The JSON text (one line, sorted keys); the file, if written, holds the same text.

    Raises:
      TypeError, ValueError: as ``save_model`` for params and metadata.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be None, a str or os.PathLike, got {type(path).__name__}")
    document = {
        "format": EXPORT_FORMAT,
        "format_version": FORMAT_VERSION,
        "library": LIBRARY_NAME,
        "library_version": __version__,
        "metadata": caller_metadata(metadata),
        "weights": params_to_json(params),
    }
    # Through text and back, so the seal covers exactly what a reader will parse.
    document = parse_json(to_json_text(document, "document", indent=None), "document")
    text = to_json_text(seal(document), "document", indent=None)
    if path is not None:
        write_text_atomic(path, text)
    return text


def _read_source(source: Any, max_bytes: int) -> tuple[str | bytes, str]:
    """The JSON text of ``source`` and how to call it in messages."""
    if isinstance(source, str):
        if not source.strip():
            raise ValueError("source is an empty string; expected JSON text or the path of a JSON file")
        if source.lstrip().startswith("{"):
            if len(source) > max_bytes:
                raise ValueError(f"source is JSON text of {len(source)} characters, more than the limit of {max_bytes}")
            return source, "JSON text"
    elif not isinstance(source, os.PathLike):
        raise TypeError(f"source must be JSON text or the path of a JSON file, got {type(source).__name__}")
    where = f"JSON file {str(source)!r}"
    try:
        return read_regular_file(pathlib.Path(source), max_bytes=max_bytes), where
    except FileNotFoundError:
        if isinstance(source, str):
            raise FileNotFoundError(
                f"source {source[:200]!r} is neither JSON text (it does not start with '{{') nor an existing file"
            ) from None
        raise FileNotFoundError(f"source: no JSON file at {str(source)!r}") from None
    except ValueError as err:
        raise ValueError(f"source: {err}") from None
    except OSError as err:  # a name too long for a path, a permission problem ...
        raise ValueError(f"source {str(source)[:200]!r} cannot be read as a JSON file: {err.strerror or err}") from None


def import_json(source: str | os.PathLike, *, max_bytes: int = MAX_EXPORT_BYTES) -> tuple[Any, dict]:
    """Reads a document written by ``export_json`` and verifies it.

    Args:
      source: the JSON text (a str starting with ``{``) or the path of a JSON file.
      max_bytes: size limit, checked before reading a file.

    Returns:
      ``(params, metadata)``: params as in ``load_model`` (numpy leaves, saved nesting),
      metadata as the caller passed it to ``export_json`` (after a JSON round trip).

    Raises:
      FileNotFoundError: ``source`` is a path (or a str that is not JSON text) with no file.
      ValueError: an empty string, not JSON, not a ``"jaxlstm.forecaster"`` document,
        another ``format_version``, or damaged (any edited value, a missing checksum).
      TypeError: ``source`` is neither a str nor a path.
    """
    text, where = _read_source(source, max_bytes)
    document = parse_json(text, where)
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        got = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{where} is not a {EXPORT_FORMAT!r} document (format {got!r:.80})")
    check_document(document, where)
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError(f"{where} is damaged: 'metadata' must be an object, got {type(metadata).__name__}")
    try:
        params = params_from_json(document.get("weights"))
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    return params, metadata
