"""Shared fixtures. Services are real; without them a test skips, except in CI
(``PATRON_REQUIRE_SERVICES=1``), where a missing service is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("PATRON_REQUIRE_SERVICES") == "1"
DATA = Path(__file__).parent / "data"


def service_unavailable(reason: str) -> None:
    """Skip (on a laptop) or fail (in CI) because a service the test needs is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (PATRON_REQUIRE_SERVICES=1, so this fails instead of skipping)")
    pytest.skip(reason)


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
