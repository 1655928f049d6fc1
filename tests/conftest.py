"""Fixtures shared by every test (helpers live in ``support.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import REQUIRE_SERVICES, service_unavailable  # noqa: F401 - re-exported


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder with a default patron.toml, as the working directory."""
    from patron.config import DEFAULT_TOML

    (tmp_path / "patron.toml").write_text(DEFAULT_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("PATRON_") and key != "PATRON_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    return tmp_path


@pytest.fixture
def lake(tmp_path: Path):
    from patron.lake import Lake

    return Lake(tmp_path / "lake")
