"""Small clean tables built in the tests of features, with known shapes."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2024, 1, 1)
AS_OF = datetime(2024, 7, 1)


def random_clean_tables(
    seed: int, customers: int = 25, days: int = 365
) -> dict[str, pd.DataFrame]:
    """Random clean tables over ``days`` days from 2024-01-01 (spanning AS_OF)."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(customers)]

    def moments(n: int) -> pd.Series:
        seconds = rng.integers(0, days * 86_400, n)
        return pd.Series([START + timedelta(seconds=int(s)) for s in seconds],
                         dtype="datetime64[us]")

    n = customers * 8
    status = rng.choice(["completed", "returned", "cancelled"], n, p=[0.8, 0.12, 0.08])
    quantity = rng.integers(1, 4, n)
    price = np.round(rng.uniform(5, 80, n), 2)
    discount = np.where(rng.random(n) < 0.3, np.round(price * 0.1, 2), 0.0)
    revenue = quantity * price - discount
    orders = pd.DataFrame({
        "order_id": [f"o{i // 2}" for i in range(n)],
        "line_id": [str(i % 2) for i in range(n)],
        "customer_id": rng.choice(ids, n),
        "ts": moments(n),
        "category": rng.choice(["Books", "Home", "Toys", None], n),
        "quantity": quantity,
        "unit_price": price,
        "discount": discount,
        "revenue": revenue,
        "channel": rng.choice(["web", "app", "store"], n),
        "device": rng.choice(["desktop", "mobile", "tablet"], n),
        "status": status,
        "net_revenue": np.where(status == "completed", revenue, 0.0),
    })
    # lines of one order share customer and time
    orders["customer_id"] = orders.groupby("order_id")["customer_id"].transform("first")
    orders["ts"] = orders.groupby("order_id")["ts"].transform("first")
    customers_frame = pd.DataFrame({
        "customer_id": ids,
        "signup_date": [(START + timedelta(days=int(d))).date()
                        for d in rng.integers(-100, days, customers)],
        "region": rng.choice(["EU", "NA"], customers),
    })
    s = customers * 6
    sessions = pd.DataFrame({
        "session_id": [f"s{i}" for i in range(s)],
        "customer_id": rng.choice(ids, s),
        "ts": moments(s),
        "pages": rng.integers(1, 20, s),
        "duration_s": rng.uniform(10, 900, s),
        "converted": rng.random(s) < 0.2,
    })
    k = customers * 2
    opened = moments(k)
    resolved = opened + pd.to_timedelta(rng.integers(1, 400, k), unit="h")
    resolved[rng.random(k) < 0.2] = pd.NaT
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(k)],
        "customer_id": rng.choice(ids, k),
        "ts": opened,
        "resolved_ts": resolved,
        "satisfaction": rng.integers(1, 6, k).astype(float),
    })
    posts = pd.DataFrame({
        "post_id": [f"p{i}" for i in range(k)],
        "customer_id": rng.choice(ids, k),
        "ts": moments(k),
        "rating": rng.integers(1, 6, k).astype(float),
        "sentiment": rng.uniform(-1, 1, k),
    })
    m = customers * 5
    marketing = pd.DataFrame({
        "campaign_id": [f"m{i % 7}" for i in range(m)],
        "customer_id": rng.choice(ids, m),
        "ts": moments(m),
        "opened": rng.random(m) < 0.4,
        "clicked": rng.random(m) < 0.1,
        "converted": rng.random(m) < 0.03,
    })
    return {"customers": customers_frame, "orders": orders, "sessions": sessions,
            "support_tickets": tickets, "social_posts": posts, "marketing": marketing}


def duckdb_con(tables: dict[str, pd.DataFrame]):
    """An in-memory Ibis DuckDB backend holding ``clean_<name>`` tables."""
    import ibis

    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.create_table(f"clean_{name}", frame)
    return con
