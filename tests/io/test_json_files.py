"""Tests for strict JSON text and files: bounded reads, atomic writes, canonical checksums."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.io import model_files as J

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(_json_values)
def test_text_round_trip_and_canonical_form_is_stable(value):
    for indent in (2, None):
        assert J.parse_json(J.to_json_text(value, "value", indent=indent), "text") == value
    canonical = J.canonical_json(value)
    assert J.canonical_json(J.parse_json(canonical, "text")) == canonical


def test_write_and_read_json_file(tmp_path):
    obj = {"b": [1, 2.5, None], "a": {"z": True, "y": "é"}, "n": np.float32(0.25)}
    path = J.write_json_atomic(tmp_path / "x.json", obj)
    assert path == tmp_path / "x.json" and os.listdir(tmp_path) == ["x.json"]
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(J.read_json(path), sort_keys=True, indent=2) + "\n"
    assert J.read_json(path) == {"a": {"y": "é", "z": True}, "b": [1, 2.5, None], "n": 0.25}


def test_writing_refuses_non_finite_and_non_json_naming_the_entry(tmp_path):
    with pytest.raises(ValueError, match=r"obj\['a'\]\[1\]"):
        J.write_json_atomic(tmp_path / "x.json", {"a": [1.0, float("inf")]})
    with pytest.raises(TypeError, match=r"obj\['s'\]"):
        J.write_json_atomic(tmp_path / "x.json", {"s": {1, 2}})
    deep: list = []
    for _ in range(J.MAX_JSON_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValueError, match="levels deep"):
        J.write_json_atomic(tmp_path / "x.json", deep)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"a": NaN}', "non-finite"),
        ('{"a": -Infinity}', "non-finite"),
        ('{"a": 1e999}', "finite float"),  # Python alone would read inf
        ('{"a": 1, "a": 2}', "duplicate"),
        ("[" * 100_000 + "]" * 100_000, "nested"),  # RecursionError in the json module
        ("[" * (J.MAX_JSON_DEPTH + 1) + "]" * (J.MAX_JSON_DEPTH + 1), "nested"),
        ("", "Expecting value"),
        (b"\xff\xfe{}", "utf-8"),
    ],
    ids=["nan", "-inf", "1e999", "duplicate", "very-deep", "deep", "empty", "not-utf8"],
)
def test_parse_json_refuses_with_value_error(text, match):
    with pytest.raises(ValueError, match=match) as info:
        J.parse_json(text, "the text")
    assert "the text" in str(info.value)


def test_read_json_errors_name_the_file(tmp_path):
    (tmp_path / "bad.json").write_text('{"a": NaN}')
    with pytest.raises(ValueError, match="bad.json"):
        J.read_json(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="absent.json"):
        J.read_json(tmp_path / "absent.json")
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ValueError, match="deep.json.*nested"):
        J.read_json(tmp_path / "deep.json")
    with pytest.raises(TypeError, match="path"):
        J.read_json(3)


def test_read_regular_file_refuses_folders_and_large_files(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        J.read_regular_file(tmp_path, max_bytes=10)
    (tmp_path / "f").write_bytes(b"x" * 11)
    with pytest.raises(ValueError, match="11 bytes, more than the limit of 10"):
        J.read_regular_file(tmp_path / "f", max_bytes=10)
    assert J.read_regular_file(tmp_path / "f", max_bytes=11) == b"x" * 11
    os.symlink(tmp_path / "f", tmp_path / "link")
    assert J.read_regular_file(tmp_path / "link", max_bytes=11) == b"x" * 11
    with pytest.raises(ValueError, match="symbolic link"):
        J.read_regular_file(tmp_path / "link", max_bytes=11, follow_symlinks=False)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_read_regular_file_refuses_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    result = []
    reader = threading.Thread(target=lambda: result.append(_raises(J.read_json, tmp_path / "fifo")), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # unblock the reader before failing
        with open(tmp_path / "fifo", "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "FIFO" in result[0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_read_json_refuses_a_link_to_a_device(tmp_path):
    os.symlink("/dev/zero", tmp_path / "zero.json")
    with pytest.raises(ValueError, match="character device"):
        J.read_json(tmp_path / "zero.json")


def _raises(func, *args) -> str:
    try:
        func(*args)
    except ValueError as err:
        return str(err)
    return "no error"


def test_seal_covers_every_value_but_not_formatting():
    doc = J.seal({"a": [1, 2.5], "b": {"c": "x"}})
    J.verify_seal(doc, "doc")
    J.verify_seal(J.parse_json(json.dumps(doc, indent=7), "text"), "doc")  # reformatted
    for edit in (
        lambda d: d["a"].append(3),
        lambda d: d.update(a=[1, 2.5000001]),
        lambda d: d["b"].update(c="y"),
        lambda d: d.update(extra=None),
        lambda d: d.update(a=[1.0, 2.5]),  # 1 and 1.0 are different JSON
    ):
        edited = json.loads(json.dumps(doc))
        edit(edited)
        with pytest.raises(ValueError, match="doc is damaged: checksum mismatch"):
            J.verify_seal(edited, "doc")
    with pytest.raises(ValueError, match="missing"):
        J.verify_seal({"a": 1}, "doc")


def test_write_text_atomic_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = J.write_text_atomic(tmp_path / "f.json", "old")

    def fail(*_args):
        raise OSError("simulated failure")

    monkeypatch.setattr(J.os, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        J.write_text_atomic(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]


# --------------------------------------------------------------------------- bounds before parsing

_tricky_text = st.text(alphabet='[]{},:"\\ab \n', max_size=12)
_tricky_values = st.recursive(
    st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_tricky_text, children, max_size=4),
    max_leaves=30,
)


def _values_and_keys(value) -> int:
    if isinstance(value, dict):
        return 1 + sum(1 + _values_and_keys(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_values_and_keys(v) for v in value)
    return 1


@settings(max_examples=200, deadline=None)
@given(_tricky_values, st.sampled_from([None, 2]))
def test_scan_measures_depth_exactly_and_bounds_the_elements(value, indent):
    # Brackets, commas, colons, quotes and backslashes inside strings must not count.
    text = json.dumps(value, indent=indent)
    depth, count = J.json_depth(value), _values_and_keys(value)
    J.scan_json(text.encode(), "text", max_elements=2 * count)
    if depth > 0:
        deep = "[" * (J.MAX_JSON_DEPTH + 1 - depth) + text + "]" * (J.MAX_JSON_DEPTH + 1 - depth)
        with pytest.raises(ValueError, match="nested deeper than 100 levels"):
            J.scan_json(deep.encode(), "text")
        J.scan_json(deep[1:-1].encode(), "text")
    if count > 2:
        with pytest.raises(ValueError, match="more than"):
            J.scan_json(text.encode(), "text", max_elements=count // 3)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[" * 101 + "]" * 101, "nested deeper than 100 levels"),
        ("[" * 10**6, "nested deeper than 100 levels"),  # refused long before the end
        ("[" + "0," * 1000 + "0]", "more than 1000 elements"),
        ("{" + ",".join(f'"{i}":0' for i in range(501)) + "}", "more than 1000 elements"),  # a key counts
        ("[" + "[]," * 600 + "[]]", "more than 1000 elements"),
    ],
)
def test_parse_json_refuses_what_exceeds_a_bound_before_parsing(text, match):
    with pytest.raises(ValueError, match=match) as caught:
        J.parse_json(text, "file 'm.json'", max_elements=1000)
    assert str(caught.value).startswith("file 'm.json'") and "\n" not in str(caught.value)


def test_strings_holding_brackets_and_quotes_are_not_structure():
    text = json.dumps({"a": "[" * 500 + '\\"{' * 300, "b\\": ["]]]]", ",,,,:::"]})
    assert J.parse_json(text, "text", max_elements=10) == json.loads(text)
