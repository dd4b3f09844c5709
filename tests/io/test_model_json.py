"""Tests for the single-document JSON export of a model (format "jaxlstm.forecaster")."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from persist_trees import assert_identical, lstm_params, nested_params

from jaxlstm._src.io import model_files as X

METADATA = {
    "model": "LSTMForecaster",
    "config": {"sequence_length": 5},
    "encoding": {"target": "relative", "log_return_std": 0.0055},
    "data": {"last_window": [1.0, 2.0, 3.0, 4.0, 5.0], "interval_seconds": 3600.0},
}


def test_round_trip_from_text_and_file(tmp_path):
    params = nested_params()
    text = X.export_json(params, {**METADATA, "metric": np.float32(0.5)}, tmp_path / "model.json")
    assert (tmp_path / "model.json").read_text(encoding="utf-8") == text
    assert os.listdir(tmp_path) == ["model.json"]
    doc = json.loads(text)
    assert doc["format"] == "jaxlstm.forecaster" and doc["format_version"] == X.FORMAT_VERSION
    for source in (text, tmp_path / "model.json", str(tmp_path / "model.json")):
        got_params, got_metadata = X.import_json(source)
        assert_identical(got_params, params)
        assert got_metadata == {**METADATA, "metric": 0.5}


def test_export_of_a_loaded_model_round_trips(tmp_path):
    params = lstm_params(hidden=4)
    X.save_model(tmp_path / "m", params, METADATA)
    text = X.export_json(*X.load_model(tmp_path / "m"))
    got_params, got_metadata = X.import_json(text)
    assert_identical(got_params, params)
    assert got_metadata == METADATA  # the folder's own keys are not carried over


_EDITS = {
    "metadata_value": lambda d: d["metadata"]["encoding"].update(log_return_std=0.006),
    "last_window": lambda d: d["metadata"]["data"]["last_window"].__setitem__(0, 1.5),
    "weights_value": lambda d: d["weights"]["params"]["children"]["head"]["children"]["b"]["data"].__setitem__(0, 0.5),
    "checksum_deleted": lambda d: d.pop("document_sha256"),
    "library_version": lambda d: d.update(library_version="0"),
}


@pytest.mark.parametrize("edit", list(_EDITS), ids=list(_EDITS))
def test_any_edit_is_refused(edit):
    doc = json.loads(X.export_json(lstm_params(hidden=4), METADATA))
    _EDITS[edit](doc)
    with pytest.raises(ValueError, match="damaged"):
        X.import_json(json.dumps(doc))


def test_deleted_weight_checksums_are_refused_even_when_resealed():
    # Deleting params_sha256 used to let edited weights load silently.
    doc = json.loads(X.export_json(lstm_params(hidden=4), METADATA))
    doc["weights"]["params"]["children"]["head"]["children"]["b"]["data"][0] = 0.5
    del doc["weights"]["params_sha256"]
    with pytest.raises(ValueError, match="params_sha256 is missing"):
        X.import_json(json.dumps(X.seal(doc)))


@pytest.mark.parametrize("version", [1, 3])
def test_other_format_versions_are_refused_naming_both(version):
    doc = json.loads(X.export_json(lstm_params(hidden=4), METADATA))
    doc["format_version"] = version
    with pytest.raises(ValueError, match=f"JSON text has format_version {version}, .* supported format_version 2"):
        X.import_json(json.dumps(X.seal(doc)))


def test_bad_sources_are_clear_errors_naming_the_source(tmp_path):
    # from_json("") used to raise IsADirectoryError: '.'
    with pytest.raises(ValueError, match="source is an empty string"):
        X.import_json("")
    with pytest.raises(ValueError, match="source is an empty string"):
        X.import_json("  \n")
    with pytest.raises(FileNotFoundError, match="'not json' is neither JSON text"):
        X.import_json("not json")
    with pytest.raises(FileNotFoundError, match="absent.json"):
        X.import_json(tmp_path / "absent.json")
    with pytest.raises(ValueError, match="folder"):
        X.import_json(tmp_path)
    with pytest.raises(ValueError, match="cannot be read as a JSON file"):
        X.import_json("x" * 10_000)  # too long to be a file name
    with pytest.raises(ValueError, match="JSON text is not valid JSON"):
        X.import_json("{not json")
    with pytest.raises(ValueError, match="not a 'jaxlstm.forecaster' document"):
        X.import_json('{"format": "something else"}')
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match="list.json.*not a 'jaxlstm.forecaster' document"):
        X.import_json(tmp_path / "list.json")
    with pytest.raises(TypeError, match="source"):
        X.import_json(b"{}")
    with pytest.raises(ValueError, match="limit"):
        X.import_json(X.export_json(lstm_params(hidden=4), METADATA), max_bytes=100)


def test_export_refuses_bad_input_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"metadata"):
        X.export_json(lstm_params(), {"loss": float("nan")}, tmp_path / "m.json")
    with pytest.raises(ValueError, match="non-finite"):
        X.export_json({"w": np.array([np.nan], np.float32)}, {}, tmp_path / "m.json")
    with pytest.raises(TypeError, match="metadata must be a dict"):
        X.export_json(lstm_params(), None)
    assert os.listdir(tmp_path) == []
