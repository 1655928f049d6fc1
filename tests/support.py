"""Helpers shared by the tests: services are real; without them a test skips, except in
CI (``PATRON_REQUIRE_SERVICES=1``), where a missing service is a failure."""

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
