"""File ingest: every row accepted or quarantined, with the reason; nothing lost, nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from patron.errors import SchemaError, SourceError
from patron.ingest import ingest_file
from patron.lake import Lake

HEADER = (
    "order_id,line_id,customer_id,ts,product_id,category,quantity,unit_price,discount,"
    "currency,channel,device,region,status"
)
GOOD = "o{n},1,c{n},2024-01-05 10:00:00,p1,Books,2,10.0,1.0,USD,web,desktop,EU,completed"


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def quarantine(lake: Lake, kind: str = "orders"):
    return lake.read("quarantine", kind).sort_values("_source_row").reset_index(drop=True)


def test_each_bad_row_is_quarantined_with_its_rule_line_and_original_values(tmp_path, lake):
    lines = [
        GOOD.format(n=1),
        "o2,1,c2,2024-01-05 10:00:00,p1,Books,1,-5,0,USD,web,desktop,EU,completed",
        "o3,1,c3,31/02/2024,p1,Books,1,10,0,USD,web,desktop,EU,completed",
        "o4,1,c4,2024-01-05,p1,Books,0,10,0,USD,web,desktop,EU,completed",
        "o5,1,c5,2024-01-05,p1,Books,1,10,0,USD,web",
        "o6,1,c6,2024-01-05,p1,Books,1,10,0,USD,web,desktop,EU,shipped",
        "o7,1,c7,2099-01-05,p1,Books,1,10,0,USD,web,desktop,EU,completed",
        "o8,1,c8,2024-01-05,p1,Books,1.5,10,0,USD,web,desktop,EU,completed",
        "o9,1,,2024-01-05,p1,Books,1,10,0,USD,WEB, Mobile ,NA,Completed",
    ]
    result = ingest_file(lake, write_csv(tmp_path / "orders.csv", lines), "orders")

    assert (result.rows_read, result.accepted, result.quarantined) == (9, 2, 7)
    assert result.anonymous == 1
    q = quarantine(lake)
    assert q["_source_row"].tolist() == [3, 4, 5, 6, 7, 8, 9]
    assert q["_rule"].tolist() == [
        "unit_price:minimum",
        "ts:type",
        "quantity:zero",
        "csv:missing_columns",
        "status:allowed",
        "ts:future",
        "quantity:type",
    ]
    assert "unit_price: '-5.0' is below the minimum 0" in q["_reason"][0]
    assert json.loads(q["_original"][1])["ts"] == "31/02/2024"
    assert json.loads(q["_original"][3])["line"].startswith("o5,1,c5")
    raw = lake.read("raw", "orders").sort_values("_source_row")
    assert raw["order_id"].tolist() == ["o1", "o9"]
    # mixed case vocabulary is valid and kept as received; "NA" is a region, not missing
    assert raw["channel"].tolist() == ["web", "WEB"]
    assert raw["region"].tolist() == ["EU", "NA"]
    assert raw["revenue"].tolist() == [19.0, 10.0]


def test_replayed_batch_adds_no_rows(tmp_path, lake):
    path = write_csv(tmp_path / "orders.csv", [GOOD.format(n=n) for n in range(50)])
    first = ingest_file(lake, path, "orders")
    again = ingest_file(lake, path, "orders")

    assert not first.skipped and again.skipped
    assert again.batch_id == first.batch_id and again.accepted == 50
    assert len(lake.read("raw", "orders")) == 50
    copy = tmp_path / "copy-of-orders.csv"
    copy.write_bytes(path.read_bytes())
    assert ingest_file(lake, copy, "orders").skipped  # same content under another name


def test_event_ids_are_stable_and_distinct_per_line(tmp_path, lake):
    lines = [GOOD.format(n=n) for n in range(20)]
    lines.append(GOOD.format(n="x|y").replace(",1,", ",z,", 1))  # a separator inside a key
    lines.append(GOOD.format(n="x").replace(",1,", ",y|z,", 1))
    ingest_file(lake, write_csv(tmp_path / "orders.csv", lines), "orders")
    ids = lake.read("raw", "orders")["event_id"]
    assert ids.is_unique and len(ids) == 22
    assert {"o7|1", "ox\\|y|z", "ox|y\\|z"} <= set(ids)


def test_file_without_usable_columns_names_the_missing_ones_and_the_mapping(tmp_path, lake):
    path = write_csv(tmp_path / "orders.csv", ["a,b,c"], header="foo,bar,baz")
    with pytest.raises(SchemaError) as err:
        ingest_file(lake, path, "orders")
    message = str(err.value)
    for column in ("order_id", "ts", "quantity", "unit_price"):
        assert column in message
    assert "foo" in message and "Mapping used" in message
    assert not lake.files("raw", "orders")


def test_unknown_file_type_is_a_clear_error(tmp_path, lake):
    path = tmp_path / "orders.dat"
    path.write_text("x")
    with pytest.raises(SourceError, match=r"orders\.dat: unknown file type '\.dat'"):
        ingest_file(lake, path, "orders")


def test_wrong_encoding_names_the_line_and_the_likely_encoding(tmp_path, lake):
    text = HEADER + "\n" + GOOD.format(n=1).replace("Books", "Bücher café crème") + "\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(SourceError) as err:
        ingest_file(lake, path, "orders")
    assert "line 2 is not valid utf-8" in str(err.value)
    assert "--encoding" in err.value.hint
    assert not lake.files("raw", "orders")  # nothing half-written

    result = ingest_file(lake, path, "orders", encoding="cp1252")
    assert result.accepted == 1
    assert lake.read("raw", "orders")["category"][0] == "Bücher café crème"


def test_tab_separated_and_quoted_fields_are_read(tmp_path, lake):
    rows = [
        'o1\t1\tc1\t2024-01-05 10:00:00\tp1\t"Home, Garden"\t1\t3.5\t0\tUSD\tapp\tmobile\tEU\t'
        "completed"
    ]
    path = write_csv(tmp_path / "orders.tsv", rows, header=HEADER.replace(",", "\t"))
    result = ingest_file(lake, path, "orders")
    assert result.accepted == 1
    assert lake.read("raw", "orders")["category"][0] == "Home, Garden"


def test_json_lines_with_a_malformed_line_quarantine_it(tmp_path, lake):
    lines = [
        {
            "session_id": "s1",
            "customer_id": "c1",
            "ts": "2024-02-01T10:00:00",
            "device": "mobile",
            "pages": 3,
            "duration_s": 40.5,
            "converted": True,
        },
        "{not json",
        {"session_id": "s3", "ts": "2024-02-02T10:00:00", "device": "desktop", "pages": -1},
        {
            "session_id": "s4",
            "ts": "2024-02-03T10:00:00",
            "device": "tablet",
            "pages": 2,
            "meta": {"utm": "x"},
        },
    ]
    path = tmp_path / "sessions.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    result = ingest_file(lake, path, "sessions")
    assert (result.rows_read, result.accepted, result.quarantined) == (4, 2, 2)
    assert result.quarantined_by_rule == {"source:malformed": 1, "pages:minimum": 1}
    assert result.anonymous == 1
    q = quarantine(lake, "sessions")
    assert q["_source_row"].tolist() == [2, 3]
    raw = lake.read("raw", "sessions").sort_values("session_id")
    assert raw["converted"].tolist() == [True, False]  # default for a missing flag


def test_json_array_parquet_and_excel_sources(tmp_path, lake):
    posts = [
        {"post_id": f"p{i}", "ts": "2024-03-01 09:00:00", "text": "love it", "rating": r}
        for i, r in enumerate([5, 4, 9])
    ]
    (tmp_path / "posts.json").write_text(json.dumps(posts))
    r1 = ingest_file(lake, tmp_path / "posts.json", "social_posts")
    assert (r1.accepted, r1.quarantined_by_rule) == (2, {"rating:maximum": 1})

    table = pa.table(
        {
            "ticket_id": ["t1", "t2"],
            "customer_id": ["c1", "c2"],
            "ts": pa.array([1_700_000_000_000_000, None], pa.timestamp("us")),
            "satisfaction": [4.0, 2.0],
        }
    )
    pq.write_table(table, tmp_path / "tickets.parquet")
    r2 = ingest_file(lake, tmp_path / "tickets.parquet", "support_tickets")
    assert (r2.accepted, r2.quarantined_by_rule) == (1, {"ts:missing": 1})

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_id", "signup_date", "region", "email_opt_in"])
    sheet.append(["c1", "2023-05-01", "EU", "yes"])
    sheet.append(["c2", "not a date", "NA", "no"])
    book.save(tmp_path / "crm.xlsx")
    r3 = ingest_file(lake, tmp_path / "crm.xlsx", "customers")
    assert (r3.accepted, r3.quarantined) == (1, 1)
    assert quarantine(lake, "customers")["_source_row"].tolist() == [3]  # Excel row number


def test_uci_retail_preset_marks_cancellations(tmp_path, lake):
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    lines = [
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850.0,United Kingdom",
        "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527.0,United Kingdom",
        "536414,22139,,56,12/1/2010 11:52,0,,United Kingdom",
    ]
    result = ingest_file(
        lake, write_csv(tmp_path / "retail.csv", lines, header), preset="uci-retail"
    )
    assert (result.accepted, result.anonymous) == (3, 1)
    raw = lake.read("raw", "orders").sort_values("_source_row")
    assert raw["status"].tolist() == ["completed", "cancelled", "completed"]
    assert raw["customer_id"].tolist()[:2] == ["17850", "14527"]
    assert str(raw["ts"].iloc[0]) == "2010-12-01 08:26:00"


def test_generic_preset_guesses_and_reports_its_guesses(tmp_path, lake):
    header = "Order Number,Client ID,Order Date,SKU,Qty,Price"
    lines = ["A1,C9,2024-04-01,S1,2,9.99"]
    result = ingest_file(
        lake, write_csv(tmp_path / "export.csv", lines, header), "orders", preset="generic"
    )
    assert result.accepted == 1
    assert result.guessed["order_id"] == "Order Number"
    assert result.guessed["customer_id"] == "Client ID"
    assert result.guessed["quantity"] == "Qty"


def test_mapping_file_with_formats_and_constants(tmp_path, lake):
    mapping = tmp_path / "shop.toml"
    mapping.write_text(
        'kind = "orders"\n[columns]\norder_id = "Invoice"\ncustomer_id = "Client"\n'
        'ts = { source = "Date", formats = ["%d.%m.%Y %H:%M"] }\nquantity = "Qty"\n'
        'unit_price = "Price"\nchannel = { const = "store" }\n'
    )
    path = write_csv(
        tmp_path / "shop.csv",
        ["I1,K1,24.12.2024 18:30,1,5"],
        header="Invoice,Client,Date,Qty,Price",
    )
    result = ingest_file(lake, path, mapping_file=mapping)
    assert result.accepted == 1
    raw = lake.read("raw", "orders")
    assert str(raw["ts"][0]) == "2024-12-24 18:30:00" and raw["channel"][0] == "store"


def test_region_partitions_when_configured(tmp_path, lake):
    lines = [
        GOOD.format(n=1),
        GOOD.format(n=2).replace(",EU,", ",NA,"),
        GOOD.format(n=3).replace(",EU,", ",,"),
    ]
    ingest_file(lake, write_csv(tmp_path / "orders.csv", lines), "orders", partition_by_region=True)
    folders = {Path(f).parent.name for f in lake.files("raw", "orders")}
    assert folders == {"region=EU", "region=NA", "region=__HIVE_DEFAULT_PARTITION__"}
    raw = lake.read("raw", "orders").sort_values("order_id")
    assert raw["region"].tolist()[:2] == ["EU", "NA"] and raw["region"].isna().tolist()[2]
    assert set(raw["month"]) == {"2024-01"}


def test_a_malformed_date_in_the_sniffed_sample_does_not_fail_the_good_ones(tmp_path, lake):
    header = "customer_id,signup_date,updated_at"
    lines = ["c0,31/02/2024,13/01/2024 10:00", "c1,not a date,"]
    lines += [f"c{n},2024-0{1 + n % 9}-1{n % 10},2024-02-01 10:00:0{n % 10}" for n in range(2, 400)]
    result = ingest_file(lake, write_csv(tmp_path / "customers.csv", lines, header), "customers")
    assert (result.accepted, result.quarantined) == (398, 2)
    assert result.quarantined_by_rule == {"signup_date:type": 2}
