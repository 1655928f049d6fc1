"""The shared Spark session of the feature tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole run (JVM start-up ~20 s)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from patron.engine import spark_session

    return spark_session()
