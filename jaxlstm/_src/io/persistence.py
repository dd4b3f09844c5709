"""Saving and loading models: the one import point of the persistence layer.

The layer is split by idea; this module only gathers the names its callers use:

- ``model_folder``: model folders (Orbax params + sealed ``metadata.json``), atomic
  replacement, ``FORMAT_VERSION``; its docstring states what a save and a load guarantee.
- ``locking``: ``model_lock``, one writer per model path (an OS file lock).
- ``model_json``: a whole model as one sealed JSON document (``export_json``, ``import_json``).
- ``tree_codec``: params trees without pickle: canonical leaves, checksums, params <-> JSON.
- ``json_files``: strict, bounded JSON reads and atomic writes.
"""

from __future__ import annotations

from jaxlstm._src.io.json_files import read_json, write_json_atomic
from jaxlstm._src.io.locking import model_lock
from jaxlstm._src.io.model_folder import (
    FORMAT_VERSION,
    METADATA_FILE,
    PARAMS_DIR,
    RESERVED_METADATA_KEYS,
    TMP_INFIX,
    is_model_folder,
    load_model,
    save_model,
)
from jaxlstm._src.io.model_json import EXPORT_FORMAT, export_json, import_json
from jaxlstm._src.io.tree_codec import leaf_checksums, params_from_json, params_to_json

__all__ = [
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
    "model_lock",
    "params_from_json",
    "params_to_json",
    "read_json",
    "save_model",
    "write_json_atomic",
]
