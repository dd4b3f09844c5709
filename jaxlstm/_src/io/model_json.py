"""A whole model as one JSON document: metadata and weights, sealed by one checksum.

The document (format ``"jaxlstm.forecaster"``) is::

    {"format": "jaxlstm.forecaster", "format_version": 2,
     "library": "jaxlstm", "library_version": "...",
     "metadata": {... the caller's metadata ...},
     "weights": {... tree_codec.params_to_json(params) ...},
     "document_sha256": "..."}

``document_sha256`` covers every other key (the canonical JSON of the document without
it), and ``weights`` carries a SHA-256 per leaf, so ``import_json`` refuses any edited
value with a ``ValueError`` saying the document is damaged. Weights are exact for every
float dtype. Nothing is unpickled; reading is bounded like every JSON read here (see
``json_files``).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

from jaxlstm._src.io import json_files, tree_codec
from jaxlstm._src.io.model_folder import FORMAT_VERSION, LIBRARY_NAME, caller_metadata, check_document
from jaxlstm._src.version import __version__

EXPORT_FORMAT = "jaxlstm.forecaster"
"""Value of the ``format`` key of documents written by ``export_json``."""

MAX_EXPORT_BYTES = json_files.DEFAULT_MAX_JSON_BYTES
"""Default size limit of ``import_json``."""


def export_json(params: Any, metadata: dict, path: str | os.PathLike | None = None) -> str:
    """Exports params and metadata as one sealed JSON document.

    Args:
      params: a params tree as accepted by ``save_model``.
      metadata: JSON-able dict; keys in ``model_folder.RESERVED_METADATA_KEYS`` are
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
        "weights": tree_codec.params_to_json(params),
    }
    # Through text and back, so the seal covers exactly what a reader will parse.
    document = json_files.parse_json(json_files.to_json_text(document, "document", indent=None), "document")
    text = json_files.to_json_text(json_files.seal(document), "document", indent=None)
    if path is not None:
        json_files.write_text_atomic(path, text)
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
        return json_files.read_regular_file(pathlib.Path(source), max_bytes=max_bytes), where
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
    document = json_files.parse_json(text, where)
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        got = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{where} is not a {EXPORT_FORMAT!r} document (format {got!r:.80})")
    check_document(document, where)
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError(f"{where} is damaged: 'metadata' must be an object, got {type(metadata).__name__}")
    try:
        params = tree_codec.params_from_json(document.get("weights"))
    except ValueError as err:
        raise ValueError(f"{where} is damaged: {err}") from None
    return params, metadata
