"""Pickle-free codec for params trees: canonical leaves, structure descriptions, checksums, JSON.

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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

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
