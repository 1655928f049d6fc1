"""Configuration errors and the installed ``patron`` console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patron.config import Settings
from patron.errors import ConfigError

PATRON = shutil.which("patron", path=str(Path(sys.executable).parent))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert PATRON, "the patron console script is not installed next to this Python"
    return subprocess.run([PATRON, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_unknown_key_names_the_key(project):
    (project / "patron.toml").write_text('[lake]\npaht = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'lake.paht'"):
        Settings.load()


def test_bad_value_names_key_value_and_allowed(project):
    (project / "patron.toml").write_text('[engine]\nbackend = "oracle"\n')
    with pytest.raises(ConfigError) as err:
        Settings.load()
    assert "engine.backend = 'oracle'" in str(err.value) and "'duckdb' or 'spark'" in str(err.value)


def test_environment_overrides_file(project, monkeypatch):
    monkeypatch.setenv("PATRON_LAKE__PATH", "elsewhere")
    assert Settings.load().lake_path == (project / "elsewhere").resolve()


def test_broken_toml_is_a_config_error(project):
    (project / "patron.toml").write_text("[lake\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        Settings.load()


def test_cli_init_ingest_status_and_replay(tmp_path):
    assert run("init", "proj", cwd=tmp_path).returncode == 0
    proj = tmp_path / "proj"
    assert (proj / "patron.toml").exists() and (proj / "lake" / "raw").is_dir()
    (proj / "orders.csv").write_text(
        "order_id,customer_id,ts,quantity,unit_price\n"
        "o1,c1,2024-01-01,1,5\no2,c2,2024-01-02,1,-5\no3,,2024-01-03,2,5\n"
    )
    first = run("ingest", "orders.csv", cwd=proj)
    assert first.returncode == 0, first.stderr
    assert "read = accepted + quarantined" in first.stdout
    assert "unit_price:minimum" in first.stdout
    again = run("ingest", "orders.csv", cwd=proj)
    assert "already ingested" in again.stdout
    status = run("lake", "status", cwd=proj)
    assert "raw" in status.stdout and "quarantine" in status.stdout


def test_cli_user_error_is_one_red_line_with_exit_2(tmp_path):
    (tmp_path / "patron.toml").write_text('[lake]\npath = "lake"\n')
    (tmp_path / "mystery.csv").write_text("a,b\n1,2\n")
    result = run("ingest", "mystery.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot tell which table" in result.stderr and "--kind" in result.stderr
    result = run("ingest", "mystery.csv", "--kind", "orders", cwd=tmp_path)
    assert result.returncode == 2 and "order_id" in result.stderr
    debug = run("--debug", "ingest", "mystery.csv", "--kind", "orders", cwd=tmp_path)
    assert "Traceback" in debug.stderr


def test_cli_bad_config_exits_2(tmp_path):
    (tmp_path / "patron.toml").write_text('[engine]\nbackend = "x"\n')
    result = run("lake", "status", cwd=tmp_path)
    assert result.returncode == 2 and "engine.backend" in result.stderr


def test_cli_compact_and_archive(tmp_path):
    assert run("init", "proj", cwd=tmp_path).returncode == 0
    proj = tmp_path / "proj"
    for month in ("2019-01", "2019-02", "2026-01"):
        for part in range(2):
            (proj / f"orders-{month}-{part}.csv").write_text(
                "order_id,customer_id,ts,quantity,unit_price\n"
                f"o{month}{part},c1,{month}-1{part} 10:00:00,1,5\n"
            )
    assert run("ingest", ".", cwd=proj).returncode == 0
    compacted = run("lake", "compact", cwd=proj)
    assert "raw/orders: 6 → 3 file(s)" in compacted.stdout, compacted.stdout
    archived = run("lake", "archive", "--older-than", "24M", cwd=proj)
    assert archived.returncode == 0 and "archived 2 file(s) in 2 partition(s)" in archived.stdout
    assert len(list((proj / "lake" / "archive").rglob("*.parquet"))) == 2
