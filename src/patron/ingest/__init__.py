"""Ingest: sources mapped onto the canonical schema, validated, accepted or quarantined."""

from patron.ingest._discover import discover, infer_kind, kind_for
from patron.ingest._run import IngestResult, ingest_file
from patron.ingest.files import SUPPORTED, detect_encoding, detect_format
from patron.ingest.mapping import (
    PRESETS,
    ColumnMap,
    Mapping,
    guess_mapping,
    identity_mapping,
    load_mapping,
    resolve_mapping,
    uci_retail_mapping,
)

__all__ = [
    "PRESETS",
    "SUPPORTED",
    "ColumnMap",
    "IngestResult",
    "Mapping",
    "detect_encoding",
    "detect_format",
    "discover",
    "guess_mapping",
    "identity_mapping",
    "infer_kind",
    "ingest_file",
    "kind_for",
    "load_mapping",
    "resolve_mapping",
    "uci_retail_mapping",
]
