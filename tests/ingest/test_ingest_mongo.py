"""MongoDB ingest: nested fields as dot paths, arrays exploded, incremental reads."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from _services import mongo_server

from patron.errors import SourceError
from patron.ingest.mapping import ColumnMap, Mapping

pytestmark = pytest.mark.services

pymongo = pytest.importorskip("pymongo")
from patron.ingest.mongo import flatten, ingest_mongo  # noqa: E402

ORDER_LINES = Mapping(
    name="shop",
    kind="orders",
    columns={
        "order_id": ColumnMap(source="_id"),
        "line_id": ColumnMap(source="items._index"),
        "customer_id": ColumnMap(source="customer.id"),
        "ts": ColumnMap(source="created_at"),
        "device": ColumnMap(source="device.type"),
        "product_id": ColumnMap(source="items.sku"),
        "quantity": ColumnMap(source="items.qty"),
        "unit_price": ColumnMap(source="items.price"),
    },
)


@pytest.fixture(scope="module")
def mongo_url(tmp_path_factory):
    with mongo_server(tmp_path_factory.mktemp("secantus")) as url:
        yield url


@pytest.fixture
def shop(mongo_url):
    client = pymongo.MongoClient(mongo_url)
    client.drop_database("shop")
    yield client["shop"]
    client.drop_database("shop")
    client.close()


def order(n: int, at: dt.datetime, items: int = 2) -> dict:
    return {
        "customer": {"id": f"c{n % 5}", "tier": "gold"},
        "created_at": at,
        "device": {"type": "mobile", "os": "ios"},
        "items": [{"sku": f"p{k}", "qty": 1 + k, "price": 2.5} for k in range(items)],
        "tags": ["a", "b"],
    }


def test_flatten_turns_nested_fields_into_dot_paths_and_explodes_one_array():
    doc = {"_id": 7, "device": {"type": "app", "screen": {"w": 390}}, "items": [{"sku": "a"},
           {"sku": "b"}], "tags": ["x"], "paid": True}
    assert flatten(doc) == [{"_id": "7", "device.type": "app", "device.screen.w": "390",
                             "items": '[{"sku": "a"}, {"sku": "b"}]', "tags": '["x"]',
                             "paid": "true"}]
    rows = flatten(doc, explode="items")
    assert [(r["items.sku"], r["items._index"]) for r in rows] == [("a", "1"), ("b", "2")]
    assert flatten({"_id": 1, "items": []}, explode="items") == [{"_id": "1"}]


def test_documents_become_one_row_per_line_with_nested_fields_mapped(shop, mongo_url, lake):
    start = dt.datetime(2024, 6, 1, 12)
    docs = [order(n, start + dt.timedelta(minutes=n)) for n in range(20)]
    docs[3]["items"][1]["qty"] = "two"  # a wrong type in one line
    docs[4]["items"] = []  # no lines: kept as one row, quarantined for its missing values
    shop.orders.insert_many(docs)

    result = ingest_mongo(lake, mongo_url, db="shop", collection="orders",
                          mapping=ORDER_LINES, explode="items")

    assert (result.rows_read, result.accepted, result.quarantined) == (39, 37, 2)
    assert result.quarantined_by_rule == {"quantity:type": 1, "quantity:missing": 1}
    raw = lake.read("raw", "orders")
    assert set(raw["device"]) == {"mobile"} and set(raw["line_id"]) == {"1", "2"}
    assert raw["order_id"].str.fullmatch(r"[0-9a-f]{24}").all()  # ObjectId as text
    q = lake.read("quarantine", "orders")
    assert set(q["_source"]) == {f"{mongo_url}/shop/orders"}
    assert "items.qty" in json.loads(q["_original"].iloc[0])


def test_incremental_by_timestamp_reads_exactly_the_new_documents(shop, mongo_url, lake):
    start = dt.datetime(2024, 6, 1, 12)
    shop.orders.insert_many([order(n, start + dt.timedelta(hours=n // 2)) for n in range(10)])

    def read_new():
        return ingest_mongo(lake, mongo_url, db="shop", collection="orders",
                            mapping=ORDER_LINES, explode="items", incremental_field="created_at")

    first, nothing = read_new(), read_new()
    last = start + dt.timedelta(hours=4)  # the watermark: two documents sit at it
    shop.orders.insert_many([order(100, last), order(101, last + dt.timedelta(hours=1), 3)])
    second = read_new()

    assert first.rows_read == 20 and nothing.skipped
    assert second.rows_read == 5 and second.accepted == 5
    scan = lake.scan_sql("raw", "orders")
    rows, lines = duckdb.sql(
        f"SELECT count(*), count(DISTINCT (order_id, line_id)) FROM {scan}"
    ).fetchone()
    assert rows == lines == 25


def test_incremental_by_object_id(shop, mongo_url, lake):
    shop.orders.insert_many([order(n, dt.datetime(2024, 1, 1)) for n in range(6)])
    options = dict(db="shop", collection="orders", mapping=ORDER_LINES, explode="items",
                   incremental_field="_id")
    assert ingest_mongo(lake, mongo_url, **options).rows_read == 12
    shop.orders.insert_one(order(9, dt.datetime(2024, 1, 2), items=1))
    assert ingest_mongo(lake, mongo_url, **options).rows_read == 1
    assert ingest_mongo(lake, mongo_url, **options).skipped


def test_unknown_collection_and_unreachable_server_are_clear_errors(shop, mongo_url, lake):
    shop.orders.insert_one(order(1, dt.datetime(2024, 1, 1)))
    with pytest.raises(SourceError, match=r"collection 'ordrs' does not exist.*orders"):
        ingest_mongo(lake, mongo_url, db="shop", collection="ordrs", mapping=ORDER_LINES)
    unreachable = r"^mongodb://app@127\.0\.0\.1:1: cannot reach MongoDB"
    with pytest.raises(SourceError, match=unreachable) as e:
        ingest_mongo(lake, "mongodb://app:pw123@127.0.0.1:1", db="shop", collection="orders",
                     mapping=ORDER_LINES, server_timeout_s=0.5)
    assert "pw123" not in str(e.value)
