"""The persistence layer's import point re-exports the functions of its modules, not copies."""

from __future__ import annotations

from jaxlstm._src.io import json_files, locking, model_folder, model_json, persistence, tree_codec


def test_names_are_the_modules_own():
    assert persistence.save_model is model_folder.save_model
    assert persistence.load_model is model_folder.load_model
    assert persistence.FORMAT_VERSION == model_folder.FORMAT_VERSION == 2
    assert persistence.model_lock is locking.model_lock
    assert persistence.export_json is model_json.export_json and persistence.import_json is model_json.import_json
    assert persistence.EXPORT_FORMAT == "jaxlstm.forecaster"
    assert persistence.params_to_json is tree_codec.params_to_json
    assert persistence.params_from_json is tree_codec.params_from_json
    assert (
        persistence.read_json is json_files.read_json and persistence.write_json_atomic is json_files.write_json_atomic
    )
    assert set(persistence.__all__) <= set(dir(persistence))
