"""Finding the files of a folder and the canonical table each one holds."""

from __future__ import annotations

import re
from pathlib import Path

from patron.errors import SchemaError
from patron.ingest.files import SUPPORTED

#: file-name patterns that say which canonical table a file holds, checked in order
KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"ticket|support", "support_tickets"),
    (r"session|visit|clickstream", "sessions"),
    (r"post|review|social|comment", "social_posts"),
    (r"marketing|campaign|touch", "marketing"),
    (r"customer|crm|client|member", "customers"),
    (r"order|invoice|transaction|sales|retail", "orders"),
)


def infer_kind(path: Path) -> str | None:
    """The table kind a file name (or its folder's name) suggests, or None."""
    for name in (path.name.lower(), path.parent.name.lower()):
        for pattern, kind in KIND_PATTERNS:
            if re.search(pattern, name):
                return kind
    return None


def discover(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Supported files below ``folder`` with their kind, and the files whose kind is unknown."""
    found, unknown = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if not path.name.lower().endswith(SUPPORTED) or path.name.startswith((".", "_")):
            continue
        kind = infer_kind(path)
        (found.append((path, kind)) if kind else unknown.append(path))
    # customers first: later stages join events to them
    order = {"customers": 0}
    found.sort(key=lambda pk: (order.get(pk[1], 1), str(pk[0])))
    return found, unknown


def kind_for(path: Path, kind: str | None) -> str:
    """The kind given, else the one the file name suggests, else a clear error."""
    if kind:
        return kind
    guessed = infer_kind(path)
    if guessed is None:
        raise SchemaError(
            f"{path}: cannot tell which table this file holds from its name",
            hint="pass --kind customers|orders|sessions|support_tickets|social_posts|marketing",
        )
    return guessed
