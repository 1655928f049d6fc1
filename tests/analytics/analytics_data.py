"""Small hand-made data for the analytics tests: a few customers with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def orders_frame(rows: list[tuple]) -> pd.DataFrame:
    """Order lines from (order_id, customer_id, ts, revenue, status[, category, channel])."""
    records = []
    for n, row in enumerate(rows):
        order_id, customer_id, ts, revenue, status, *rest = row
        category = rest[0] if len(rest) > 0 else "books"
        channel = rest[1] if len(rest) > 1 else "web"
        records.append(
            {
                "order_id": order_id,
                "line_id": str(n),
                "customer_id": customer_id,
                "ts": pd.Timestamp(ts),
                "product_id": f"p{n % 3}",
                "category": category,
                "quantity": 1,
                "unit_price": float(revenue) if revenue is not None else 1.0,
                "discount": 0.0,
                "revenue": revenue,
                "currency": "USD",
                "channel": channel,
                "device": "mobile",
                "region": "EU",
                "status": status,
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame["revenue"] = frame["revenue"].astype("float64")
    return frame


def random_orders(seed: int = 0, customers: int = 60, lines: int = 600) -> pd.DataFrame:
    """Random order lines over 2024 with ties, several lines per order and mixed statuses."""
    rng = np.random.default_rng(seed)
    order_no = rng.integers(0, lines // 2, size=lines)
    customer_of_order = rng.integers(0, customers, size=lines // 2)
    start = pd.Timestamp("2024-01-01")
    day_of_order = rng.integers(0, 366, size=lines // 2)
    hour_of_order = rng.integers(0, 24, size=lines // 2)
    statuses = rng.choice(["completed", "Completed", "returned", "cancelled"], size=lines // 2,
                          p=[0.7, 0.1, 0.1, 0.1])
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in order_no],
            "line_id": [str(i) for i in range(lines)],
            "customer_id": [f"c{customer_of_order[i]:03d}" for i in order_no],
            "ts": [start + pd.Timedelta(days=int(day_of_order[i]), hours=int(hour_of_order[i]))
                   for i in order_no],
            "category": rng.choice(["Books", "toys", " games ", None], size=lines),
            "quantity": rng.integers(1, 4, size=lines),
            "unit_price": rng.choice([5.0, 10.0, 20.0], size=lines),
            "discount": 0.0,
            "status": [statuses[i] for i in order_no],
        }
    )
    frame["revenue"] = frame["quantity"] * frame["unit_price"]
    frame.loc[::17, "customer_id"] = None  # some guest lines
    return frame


def sessions_frame() -> pd.DataFrame:
    """40 sessions: mobile 4/20 converted, desktop 9/15, tablet 0/5; web and app."""
    rows = []
    for device, n, converted in (("mobile", 20, 4), ("Desktop", 15, 9), ("tablet", 5, 0)):
        for i in range(n):
            rows.append(
                {
                    "session_id": f"{device}{i}",
                    "customer_id": f"c{i % 4}" if i % 3 else None,
                    "ts": pd.Timestamp("2024-03-01") + pd.Timedelta(hours=i),
                    "device": device,
                    "channel": "web" if i % 2 else "app",
                    "source": "google",
                    "medium": "cpc",
                    "pages": 3,
                    "duration_s": 60.0,
                    "converted": i < converted,
                    "order_id": None,
                }
            )
    frame = pd.DataFrame(rows)
    frame["order_id"] = frame["order_id"].astype("string")
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def posts_frame() -> pd.DataFrame:
    texts = [
        "I love this shop, great service!",
        "Terrible delivery, the box was broken and support never answered.",
        "The parcel arrived on Tuesday.",
        "I love this shop, great service!",
        "",
    ]
    return pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(len(texts))],
            "customer_id": ["c1", "c2", "c1", None, "c3"],
            "ts": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04", "2024-03-05",
                                  "2024-03-06"]),
            "platform": ["twitter", "Trustpilot", "twitter", "instagram", "twitter"],
            "kind": ["post", "review", "comment", "post", "post"],
            "text": texts,
            "rating": [5.0, 1.0, None, None, None],
        }
    )
