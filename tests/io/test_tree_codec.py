"""Tests for the pickle-free params codec: canonical leaves, structure, checksums, params <-> JSON."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from persist_trees import assert_identical, lstm_params, nested_params

from jaxlstm._src.io import model_files as C


def test_params_json_round_trip_bit_exact():
    params = nested_params()
    hard = np.array(
        [0.1, -0.0, 1e-45, 1.1754942e-38, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1 / 3],
        dtype=np.float32,
    )
    params["hard"] = np.concatenate([hard, np.random.default_rng(9).standard_normal(500).astype(np.float32)])
    doc = C.params_to_json(params)
    # Through real JSON text, as a file would carry it.
    back = C.params_from_json(json.loads(json.dumps(doc)))
    assert_identical(back, params)
    assert isinstance(back["layers"], list) and isinstance(back["extra"], tuple)


def test_params_json_detects_edited_values():
    doc = C.params_to_json(lstm_params())
    doc["params"]["children"]["head"]["children"]["b"]["data"][0] = 1e-3
    with pytest.raises(ValueError, match="'head/b'"):
        C.params_from_json(doc)


def test_params_json_without_checksums_is_refused():
    # Deleting params_sha256 used to skip verification, so edited weights loaded silently.
    doc = C.params_to_json(lstm_params())
    doc["params"]["children"]["head"]["children"]["b"]["data"][0] = 1e-3
    del doc["params_sha256"]
    with pytest.raises(ValueError, match="params_sha256 is missing"):
        C.params_from_json(doc)
    doc["params_sha256"] = {}
    with pytest.raises(ValueError, match="damaged"):
        C.params_from_json(doc)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(format_version=99), "format_version 99"),
        (lambda d: d["params"]["children"]["head"]["children"]["b"].update(data=[2**70]), "damaged"),
        (lambda d: d["params"]["children"]["head"]["children"]["b"].update(data=[[1.0]]), "shape"),
        (lambda d: d["params"]["children"]["head"]["children"]["b"].update(data=["x"]), "cannot be read"),
        (lambda d: d["params"]["children"]["head"]["children"]["b"].pop("data"), "no 'data'"),
        (lambda d: d["params"]["children"]["head"]["children"]["b"].update(dtype="object"), "dtype"),
        (
            lambda d: d["params"]["children"]["head"]["children"]["b"].update(data=[1e300], dtype="float32"),
            "cannot be read",
        ),
        (lambda d: d["params"].update(kind="set"), "root"),
        (lambda d: d.update(params=[]), "root"),
    ],
)
def test_params_json_refuses_malformed_documents(edit, match):
    doc = C.params_to_json(lstm_params())
    edit(doc)
    with pytest.raises(ValueError, match=match):
        C.params_from_json(doc)


def test_rebuild_refuses_huge_shapes_before_allocating():
    description = {
        "kind": "dict",
        "children": {"w": {"kind": "array", "shape": [1_000_000, 1_000_000], "dtype": "float32"}},
    }
    calls = []
    with pytest.raises(ValueError, match="budget"):
        C.rebuild(description, lambda *args: calls.append(args))
    assert calls == []  # nothing was made
    with pytest.raises(ValueError, match="budget"):
        C.abstract_tree(description)


@pytest.mark.parametrize(
    "shape", [[1e6, 1e6], [2.0], [0, 3], [-1], [True], "12", None, [1] * (C.MAX_NDIM + 1)], ids=repr
)
def test_rebuild_refuses_bad_shapes(shape):
    description = {"kind": "dict", "children": {"w": {"kind": "array", "shape": shape, "dtype": "float32"}}}
    with pytest.raises(ValueError, match="shape"):
        C.abstract_tree(description)


def test_rebuild_refuses_deep_structures_without_recursion_error():
    node = {"kind": "array", "shape": [1], "dtype": "float32"}
    for _ in range(5000):
        node = {"kind": "list", "children": [node]}
    with pytest.raises(ValueError, match="deeper"):
        C.abstract_tree(node)


def test_abstract_tree_matches_description():
    params = nested_params()
    tree = C.abstract_tree(C.describe(C.canonical_tree(params)))
    C.check_matches(tree, C.canonical_tree(params))
    with pytest.raises(ValueError, match="head/w"):
        C.check_matches({**tree, "head": {**tree["head"], "w": np.zeros((2, 2), np.float32)}}, tree)


def test_canonical_tree_refusals():
    with pytest.raises(TypeError, match="extra"):
        C.canonical_tree({"extra": "text"})
    with pytest.raises(TypeError, match="keys"):
        C.canonical_tree({1: np.ones(2)})
    with pytest.raises(TypeError, match="keys"):
        C.canonical_tree({"a/b": np.ones(2)})
    with pytest.raises(ValueError, match="zero size"):
        C.canonical_tree({"w": np.ones((0, 3), np.float32)})
    with pytest.raises(ValueError, match="layers/0/b"):
        params = lstm_params()
        params["layers"][0]["b"][5] = np.nan
        C.canonical_tree(params)
    with pytest.raises(ValueError, match="no arrays"):
        C.canonical_tree({"a": {}, "b": []})
    with pytest.raises(TypeError, match="dict, list or tuple"):
        C.canonical_tree(np.ones(3))
    deep: list = [np.ones(1)]
    for _ in range(C.MAX_TREE_DEPTH):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper"):
        C.canonical_tree(deep)


def test_leaf_checksums_do_not_depend_on_byte_order_or_layout():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    big_endian = arr.astype(">f4")
    fortran = np.asfortranarray(arr)
    assert C.leaf_checksums({"a": arr}) == C.leaf_checksums({"a": big_endian}) == C.leaf_checksums({"a": fortran})
    # The same bytes under another dtype or shape are another leaf.
    assert C.leaf_checksums({"a": arr}) != C.leaf_checksums({"a": arr.view(np.int32)})
    assert C.leaf_checksums({"a": arr}) != C.leaf_checksums({"a": arr.reshape(4, 3)})


_DTYPES = [np.dtype(n) for n in ("bool", "int8", "int32", "int64", "uint16", "uint64", "float16", "float32", "float64")]
_DTYPES.append(np.dtype(ml_dtypes.bfloat16))


@st.composite
def _leaves(draw):
    dtype = draw(st.sampled_from(_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    if dtype.name == "bfloat16":
        values = draw(hnp.arrays(np.float32, shape, elements=st.floats(-1e4, 1e4, width=32)))
        return values.astype(dtype)
    elements = st.floats(allow_nan=False, allow_infinity=False, width=dtype.itemsize * 8) if dtype.kind == "f" else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


_keys = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=6)
_trees = st.recursive(
    _leaves(),
    lambda children: st.one_of(
        st.dictionaries(_keys, children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.dictionaries(_keys, _trees, min_size=1, max_size=3), st.lists(_trees, min_size=1, max_size=3)))
def test_params_json_round_trips_random_trees_exactly(params):
    back = C.params_from_json(json.loads(json.dumps(C.params_to_json(params), allow_nan=False)))
    assert_identical(back, params)
