"""The scoring API: every route, its errors, API keys, and a schema-driven fuzz run."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from patron.apps.api import API_KEY_HEADER, create_app

KEY = "test-key-5f1c"
AUTH = {API_KEY_HEADER: KEY}


@pytest.fixture(scope="module")
def app(demo_db):
    return create_app(db=demo_db, keys=[KEY])


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def churn(demo_db):
    """Independent truth: the stand-in (or real) churn scores straight from the lake."""
    return demo_db.sql(f"SELECT * FROM {demo_db.lake.scan_sql('scores', 'churn')} "
                       "ORDER BY customer_id")


def test_health_needs_no_key_and_counts_indexed_customers(client, demo_db) -> None:
    body = client.get("/health").json()
    sheet_rows = demo_db.scalar("SELECT count(*) FROM customer_scores")
    assert body["status"] == "ok"
    assert body["customers"] == sheet_rows
    assert body["lake_seq"] == demo_db.seq


@pytest.mark.parametrize("headers", [{}, {API_KEY_HEADER: "wrong"}, {API_KEY_HEADER: ""}])
def test_routes_refuse_missing_or_wrong_keys(client, headers) -> None:
    for method, url in (("get", "/customers/x"), ("get", "/customers"), ("get", "/segments"),
                        ("post", "/score")):
        response = getattr(client, method)(url, headers=headers,
                                           **({"json": {}} if method == "post" else {}))
        assert response.status_code == 401, (url, response.text)


def test_no_configured_key_refuses_everyone(demo_db) -> None:
    client = TestClient(create_app(db=demo_db, keys=[]))
    assert client.get("/segments", headers={API_KEY_HEADER: ""}).status_code == 401
    assert client.get("/health").status_code == 200


def test_keys_come_from_the_environment(demo_config, monkeypatch, caplog) -> None:
    monkeypatch.setenv("PATRON_API__KEYS", "env-key-1,env-key-2")
    caplog.set_level(logging.DEBUG)
    client = TestClient(create_app(demo_config))
    assert client.get("/segments", headers={API_KEY_HEADER: "env-key-2"}).status_code == 200
    assert client.get("/segments", headers={API_KEY_HEADER: KEY}).status_code == 401
    assert "env-key" not in caplog.text


def test_customer_lookup_returns_scores_reasons_and_features(client, churn) -> None:
    first = churn.iloc[0]
    body = client.get(f"/customers/{first['customer_id']}", headers=AUTH).json()
    assert body["customer_id"] == first["customer_id"]
    assert body["churn_probability"] == pytest.approx(first["churn_probability"])
    expected_risk = ("high" if first["churn_probability"] >= 0.5
                     else "medium" if first["churn_probability"] >= 0.25 else "low")
    assert body["risk"] == expected_risk
    assert body["reasons"] == [first[f"reason_{k}"] for k in (1, 2, 3) if first[f"reason_{k}"]]
    assert body["segment"]
    assert "recency_days" in body["features"] or "spend_total" in body["features"]


def test_unknown_customer_is_404(client) -> None:
    response = client.get("/customers/NOT-A-CUSTOMER", headers=AUTH)
    assert response.status_code == 404
    assert "NOT-A-CUSTOMER" in response.json()["detail"]


def test_customer_list_filters_and_pages(client, churn) -> None:
    high = churn[churn["churn_probability"] >= 0.5]
    first = client.get("/customers", params={"risk": "high", "limit": 7}, headers=AUTH).json()
    second = client.get("/customers", params={"risk": "high", "limit": 7, "offset": 7},
                        headers=AUTH).json()
    assert first["total"] == len(high)
    assert len(first["items"]) == 7
    ids = [i["customer_id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 14
    probabilities = [i["churn_probability"] for i in first["items"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(i["risk"] == "high" for i in first["items"])


def test_customer_list_by_segment_matches_the_segment_table(client, demo_db) -> None:
    segments = demo_db.sql(f"SELECT segment, count(*) AS n FROM "
                           f"{demo_db.lake.scan_sql('scores', 'segments')} GROUP BY 1")
    name, n = segments.iloc[0]["segment"], int(segments.iloc[0]["n"])
    body = client.get("/customers", params={"segment": name, "limit": 1}, headers=AUTH).json()
    assert body["total"] == n


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": 5000}, "limit"),
                                           ({"offset": -1}, "offset"), ({"risk": "huge"}, "risk"),
                                           ({"min_clv": "lots"}, "min_clv")])
def test_invalid_query_is_422_naming_the_field(client, params, field) -> None:
    response = client.get("/customers", params=params, headers=AUTH)
    assert response.status_code == 422
    assert any(field in err["loc"] for err in response.json()["detail"])


def test_score_by_ids_returns_known_and_lists_missing(client, churn) -> None:
    ids = [*list(churn["customer_id"].iloc[:3]), "NOBODY"]
    body = client.post("/score", json={"customer_ids": ids}, headers=AUTH).json()
    assert [s["customer_id"] for s in body["scores"]] == ids[:3]
    assert body["missing"] == ["NOBODY"]
    assert body["scores"][0]["churn_probability"] == pytest.approx(
        churn["churn_probability"].iloc[0])


@pytest.mark.parametrize("payload, field", [
    ({}, "body"), ({"customer_ids": []}, "customer_ids"),
    ({"customer_ids": ["a"], "features": [{"x": 1}]}, "body"),
    ({"customer_ids": "abc"}, "customer_ids"), ({"ids": ["a"]}, "ids"),
])
def test_invalid_score_requests_are_422_naming_the_field(client, payload, field) -> None:
    response = client.post("/score", json=payload, headers=AUTH)
    assert response.status_code == 422
    assert any(field in err["loc"] for err in response.json()["detail"])


def test_score_features_needs_a_promoted_churn_model(client, demo_db) -> None:
    from patron.models.registry import ModelRegistry

    registry = ModelRegistry.from_settings(demo_db.settings)
    response = client.post("/score", json={"features": [{"recency_days": 3}]}, headers=AUTH)
    if registry.promoted_version("churn") is None:
        assert response.status_code == 503
        assert "patron train" in response.json()["detail"]
    else:
        assert response.status_code in (200, 422)


def test_segments_add_up_to_all_segmented_customers(client, demo_db) -> None:
    body = client.get("/segments", headers=AUTH).json()
    total = demo_db.scalar("SELECT count(*) FROM customer_scores WHERE segment IS NOT NULL")
    assert sum(s["customers"] for s in body) == total
    assert sum(s["customer_share"] for s in body) == pytest.approx(1.0)


def test_openapi_documents_every_route(client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/health", "/customers", "/customers/{customer_id}", "/score", "/segments"} <= set(
        spec["paths"])
    assert client.get("/docs").status_code == 200


def test_index_picks_up_new_commits(demo_db) -> None:
    from patron.apps.api import CustomerIndex

    index = CustomerIndex(demo_db, refresh_interval_s=0.0)
    before = index.snapshot().seq
    assert index.snapshot().seq == before  # nothing new: same snapshot, no rebuild


def test_schema_fuzzing_finds_no_server_errors(app) -> None:
    """Every operation of the OpenAPI spec, 30 generated requests each, with a valid key:
    validation errors are fine, a 5xx is not (unless the spec documents it, like the 503
    of scoring features before a churn model is trained)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[tuple[str, int, str]] = []

    def fuzz(operation) -> None:
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def run(case) -> None:
            case.headers = {**(case.headers or {}), **AUTH}
            response = case.call()
            documented = operation.definition.raw.get("responses", {})
            if response.status_code >= 500 and str(response.status_code) not in documented:
                failures.append((operation.label, response.status_code, response.text[:200]))

        run()

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        fuzz(operation)
    assert not failures, failures


def test_live_rescore_newer_than_the_batch_score_wins(tmp_path) -> None:
    import pandas as pd

    from patron.apps._lakedb import LakeDB
    from patron.apps.api import CustomerIndex
    from patron.lake import Lake

    lake = Lake(tmp_path / "lake")
    batch = pd.DataFrame({"customer_id": ["A", "B"], "as_of": pd.Timestamp("2026-10-01"),
                          "churn_probability": [0.1, 0.2], "model_version": "churn-v1",
                          "reason_1": ["batch a", "batch b"]})
    lake.write_arrow(batch, "scores", "churn", batch_id="batch")
    index = CustomerIndex(LakeDB(lake), refresh_interval_s=0.0)
    assert index.get("A")["risk"] == "low"
    live = pd.DataFrame({"customer_id": ["A", "B"], "churn_probability": [0.9, 0.95],
                         "reason_1": ["live a", "stale b"],
                         "scored_at": [pd.Timestamp("2026-10-02 09:00"),
                                       pd.Timestamp("2026-09-01 09:00")]})
    lake.write_arrow(live, "scores", "live", batch_id="live-1", mode="append")
    index.build()
    a, b = index.get("A"), index.get("B")
    assert (a["churn_probability"], a["risk"], a["reason_1"]) == (0.9, "high", "live a")
    assert (b["churn_probability"], b["reason_1"]) == (0.2, "batch b")
