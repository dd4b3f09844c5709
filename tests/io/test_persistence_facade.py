"""Model files are one module: every name callers use is there, and the lock is locking's own, not a copy."""

from __future__ import annotations

from jaxlstm._src.io import locking, model_files


def test_names_are_the_modules_own():
    for name in (
        "EXPORT_FORMAT",
        "FORMAT_VERSION",
        "METADATA_FILE",
        "PARAMS_DIR",
        "RESERVED_METADATA_KEYS",
        "TMP_INFIX",
        "export_json",
        "import_json",
        "is_model_folder",
        "leaf_checksums",
        "load_model",
        "params_from_json",
        "params_to_json",
        "read_json",
        "save_model",
        "write_json_atomic",
    ):
        assert hasattr(model_files, name), name
    assert model_files.FORMAT_VERSION == 2
    assert model_files.model_lock is locking.model_lock
    assert model_files.as_path is locking.as_path
    assert model_files.EXPORT_FORMAT == "jaxlstm.forecaster"
