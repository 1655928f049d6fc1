"""Property: for any dirty CSV, every line lands in raw or quarantine exactly once."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.ingest import ingest_file
from patron.lake import Lake

COLUMNS = ["order_id", "customer_id", "ts", "quantity", "unit_price", "status", "channel"]

values = {
    "customer_id": st.sampled_from(["c1", "c2", "", "NULL", "c 3"]),
    "ts": st.sampled_from(
        [
            "2024-01-01 10:00:00",
            "2024-13-01",
            "",
            "yesterday",
            "2030-01-01",
            "2023-06-30",
            "01/02/2024",
        ]
    ),
    "quantity": st.sampled_from(["1", "0", "-2", "2.5", "x", "", "3"]),
    "unit_price": st.sampled_from(["9.99", "-1", "0", "abc", "", "1e3"]),
    "status": st.sampled_from(["completed", "Returned", "shipped", "", "CANCELLED"]),
    "channel": st.sampled_from(["web", "APP", "fax", "", "store"]),
}

row = st.fixed_dictionaries(values).flatmap(
    lambda fields: st.sampled_from(["ok", "short", "long", "quoted"]).map(
        lambda shape: (fields, shape)
    )
)


def render(n: int, fields: dict[str, str], shape: str) -> str:
    cells = [f"o{n}"] + [fields[c] for c in COLUMNS[1:]]
    if shape == "short":
        cells = cells[:4]
    elif shape == "long":
        cells = [*cells, "extra"]
    elif shape == "quoted":
        cells[1] = f'"{cells[1]}, with comma"'
    return ",".join(cells)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=40))
def test_every_line_is_accepted_or_quarantined_exactly_once(rows):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = [render(n, fields, shape) for n, (fields, shape) in enumerate(rows)]
        path = tmp / "orders.csv"
        path.write_text(",".join(COLUMNS) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        lake = Lake(tmp / "lake")

        result = ingest_file(lake, path, "orders")

        assert result.rows_read == len(lines)
        assert result.accepted + result.quarantined == result.rows_read
        raw_ids = (
            lake.read("raw", "orders")["order_id"].tolist() if lake.files("raw", "orders") else []
        )
        quarantined_ids = []
        quarantined_lines = []
        if lake.files("quarantine", "orders"):
            q = lake.read("quarantine", "orders")
            quarantined_lines = q["_source_row"].tolist()
            for original in q["_original"]:
                doc = json.loads(original)
                quarantined_ids.append(doc.get("order_id") or doc["line"].split(",")[0])
        assert len(raw_ids) == result.accepted
        assert len(quarantined_ids) == result.quarantined
        # every order id (one per line) appears exactly once across both layers
        assert sorted(raw_ids + quarantined_ids) == sorted(f"o{n}" for n in range(len(lines)))
        # and quarantine line numbers point at the line that holds that order id
        for line_no, order_id in zip(quarantined_lines, quarantined_ids, strict=True):
            assert lines[line_no - 2].startswith(order_id + ",")
