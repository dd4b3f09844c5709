"""Strict JSON text and files: bounded safe reads, atomic durable writes, canonical checksums.

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
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import pathlib
import stat
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np

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


def as_path(path: Any, name: str = "path") -> pathlib.Path:
    """``path`` as a ``pathlib.Path``; TypeError naming ``name`` unless it is a str or os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return pathlib.Path(path)


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
