"""Model folders: Orbax params plus a sealed ``metadata.json``, replaced atomically under a lock.

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
  ``json_files.MAX_JSON_DEPTH`` deep, both counted before parsing; shapes are
  held to ``tree_codec.MAX_PARAM_ELEMENTS`` before anything is allocated; the files under
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
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import pathlib
import re
import shutil
import stat
import sys
import tempfile
import uuid
import warnings
from typing import Any

from jaxlstm._src.io import json_files, locking, tree_codec
from jaxlstm._src.io.locking import model_lock
from jaxlstm._src.version import __version__

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
"""Most elements (values, keys, arrays and objects; see ``json_files.scan_json``) in a
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
    json_files.SEAL_KEY,
)
"""Keys computed by ``save_model``; values passed under these names are replaced, so metadata
returned by ``load_model`` can be passed straight back to ``save_model``."""

TMP_INFIX = json_files.TMP_INFIX
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
    json_files.verify_seal(document, where)
    if library != LIBRARY_NAME:
        raise ValueError(f"{where} is not a jaxlstm model (library {library!r:.80}, expected {LIBRARY_NAME!r})")


# --------------------------------------------------------------------------- Orbax


def _save_params_orbax(directory: pathlib.Path, params: Any) -> None:
    """Writes ``params`` with Orbax's StandardSave; returns once everything is written."""
    import orbax.checkpoint as ocp

    # Checkpointer (unlike AsyncCheckpointer/CheckpointManager) is synchronous: save()
    # returns after the files are written and committed.
    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
        checkpointer.save(directory.absolute(), args=ocp.args.StandardSave(params))


def _restore_params_orbax(directory: pathlib.Path, target: Any) -> Any:
    """Restores the tree at ``directory`` into the structure and dtypes of ``target``.

    Only called on a private copy of files verified against ``params_files``. When Orbax
    fails on a damaged file, the TensorStore reads still in flight complete after Orbax
    has closed its event loop, and each prints a "RuntimeError: Event loop is closed"
    traceback on stderr that nothing in Python can catch; verified input avoids that.
    """
    import orbax.checkpoint as ocp

    with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as checkpointer:
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
                    raise ValueError(f"{PARAMS_DIR}/{rel} is {json_files.describe_mode(info.st_mode)}, not a file")
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


def _siblings(path: pathlib.Path, infix: str) -> list[pathlib.Path]:
    """Entries next to ``path`` named ``<name><infix><32 hex digits>``."""
    pattern = re.compile(re.escape(path.name + infix) + _HEX_SUFFIX)
    try:
        entries = list(path.parent.iterdir())
    except FileNotFoundError:
        return []
    return [p for p in entries if pattern.fullmatch(p.name)]


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
    path = json_files.as_path(path)
    if path.name in ("", ".", "..") or _SIBLING_RE.fullmatch(path.name):
        raise ValueError(
            f"path {str(path)!r} cannot be a model folder: the name must not be empty, '.', '..', "
            "or look like a temporary/backup folder of save_model"
        )
    document = caller_metadata(metadata)
    tree = tree_codec.canonical_tree(params)
    document.update(
        format_version=FORMAT_VERSION,
        library=LIBRARY_NAME,
        library_version=__version__,
        params_structure=tree_codec.describe(tree),
        params_sha256={p: tree_codec.leaf_sha256(leaf) for p, leaf in tree_codec.iter_leaves(tree)},
    )
    # Through text and back: the checksum is computed over exactly what a load will parse.
    document = json_files.parse_json(
        json_files.to_json_text(document, "metadata", indent=None), "metadata", max_elements=MAX_METADATA_ELEMENTS
    )

    with model_lock(path, timeout=lock_timeout):
        _check_replaceable(path)
        parent = path.parent
        # A lock across processes proves no other save is running: these are leftovers of
        # saves that died. A missing model with a backup means a save died mid-swap; the
        # backup is the last good model, so it goes back before anything else happens.
        # A lock of this process only proves nothing about other processes' folders.
        if locking.PROCESS_LOCKS:
            for stale in _siblings(path, TMP_INFIX):
                _remove(stale)
            backup = _newest([p for p in _siblings(path, BAK_INFIX) if p.is_dir()])
            if backup is not None and not os.path.lexists(path):
                os.rename(backup, path)
                json_files.fsync_dir(parent)

        tmp = parent / f"{path.name}{TMP_INFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            _save_params_orbax(tmp / PARAMS_DIR, tree)
            json_files.fsync_tree(tmp / PARAMS_DIR)
            document["params_files"] = _params_files(tmp / PARAMS_DIR)
            text = json_files.to_json_text(json_files.seal(document), "metadata")
            if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
                raise ValueError(
                    f"metadata takes {len(text.encode('utf-8'))} bytes as {METADATA_FILE}, more than the "
                    f"{MAX_METADATA_BYTES} that load_model reads; store less in it"
                )
            # metadata.json last: a folder without it never loads, even under its final name.
            json_files.write_file_synced(tmp / METADATA_FILE, text)
            json_files.fsync_dir(tmp)
            old = _swap_in(tmp, path)
        except BaseException:
            _remove(tmp)
            raise
        json_files.fsync_dir(parent)
        if old is not None:
            _remove(old)
        if locking.PROCESS_LOCKS:
            for stale in _siblings(path, BAK_INFIX):
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
        raw = json_files.read_regular_file(path / METADATA_FILE, max_bytes=MAX_METADATA_BYTES, follow_symlinks=False)
    except FileNotFoundError:
        raise ValueError(f"{where} is damaged or incomplete: {METADATA_FILE} is missing") from None
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    try:
        document = json_files.parse_json(raw, METADATA_FILE, max_elements=MAX_METADATA_ELEMENTS)
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
            expected = tree_codec.abstract_tree(document.get("params_structure"))
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
        tree_codec.check_matches(params, expected)
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    tree_codec.verify_leaf_checksums(params, document.get("params_sha256"), where)
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
    path = json_files.as_path(path)
    if os.path.lexists(path):
        return _load_consistent(path)
    backup = _newest([p for p in _siblings(path, BAK_INFIX) if p.is_dir()])
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
