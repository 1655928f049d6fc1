"""The EDA report: one self-contained HTML file with every section."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from analytics_data import random_orders

from patron import Lake, Settings, connect
from patron.analytics import REPORT_SECTIONS, build_report


def _open(project: Path):
    settings = Settings.load(project / "patron.toml")
    lake = Lake.from_settings(settings)
    return connect(settings, lake=lake), lake


def test_report_is_self_contained_and_has_every_section(small_project):
    con, lake = _open(small_project)
    out = build_report(con, small_project / "out" / "report.html", lake=lake,
                       as_of="2024-12-01")
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=\"?https?:", html)
    for title in REPORT_SECTIONS:
        assert f"<h2>{title}</h2>" in html, title
    assert "Not available" not in html  # every table the sections need is there
    assert "as of 2024-12-01" in html
    assert html.count('class="plotly-graph-div"') >= 15
    # plotly.js is inlined exactly once: only the first figure carries it
    assert len(re.findall(r"plotly\.js v\d", html)) == 1
    assert html.count("window.PlotlyConfig") == 1


def test_report_on_a_lake_with_orders_only_explains_what_is_missing(tmp_path):
    (tmp_path / "patron.toml").write_text('[lake]\npath = "lake"\n', encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    lake.write_arrow(random_orders(seed=1), "raw", "orders", batch_id="o1")
    con, lake = _open(tmp_path)
    html = build_report(con, tmp_path / "r.html", lake=lake).read_text(encoding="utf-8")
    assert "No sessions table" in html
    assert "No social posts" in html
    for title in REPORT_SECTIONS:
        assert f"<h2>{title}</h2>" in html


def test_report_counts_quarantine_reasons_from_the_ingest_log(small_project):
    from patron.analytics._report import _Context, _quarantine_reasons

    con, lake = _open(small_project)
    with lake.transaction("fake-ingest", "ingest orders") as tx:
        tx.meta.update({"kind": "orders", "quarantined_by_rule": {"ts:type": 3, "ts:missing": 1}})
    with lake.transaction("fake-ingest-2", "ingest orders") as tx:
        tx.meta.update({"kind": "orders", "quarantined_by_rule": {"ts:type": 2}})
    ctx = _Context(con=con, lake=lake, as_of=pd.Timestamp("2024-12-01").to_pydatetime(),
                   period="month", active_days=120)
    reasons = _quarantine_reasons(ctx)
    assert reasons.to_dict("records") == [
        {"table": "orders", "rule": "ts:type", "rows": 5},
        {"table": "orders", "rule": "ts:missing", "rows": 1},
    ]
