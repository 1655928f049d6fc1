"""Materialise post sentiment in the lake as ``features/post_sentiment``.

One row per post (not per customer), so whoever aggregates it can respect an ``as_of``
cut-off: per-customer features join :func:`~patron.text.customer_sentiment` over this
table. The text itself stays in the source table (join back on ``post_id``).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pyarrow as pa

from patron.lake import Lake, batch_id_for
from patron.text._sentiment import score_posts

log = logging.getLogger(__name__)

LAYER = "features"
TABLE = "post_sentiment"

#: columns of ``features/post_sentiment`` (those of the posts that exist, then the scores)
POST_COLUMNS = ("post_id", "customer_id", "ts", "platform", "kind", "rating")

_SCHEMA = {
    "post_id": pa.string(),
    "customer_id": pa.string(),
    "ts": pa.timestamp("us"),
    "platform": pa.string(),
    "kind": pa.string(),
    "rating": pa.float64(),
    "sentiment": pa.float64(),
    "sentiment_label": pa.string(),
}


def _source_layer(lake: Lake) -> str:
    for layer in ("clean", "raw"):
        if lake.has_table(layer, "social_posts"):
            return layer
    from patron.errors import PatronError

    raise PatronError(
        "the lake has no social_posts table (looked in clean and raw)",
        hint="ingest one first: patron ingest FILE --kind social_posts (or run patron demo)",
    )


def write_post_sentiment(lake: Lake, con: Any | None = None) -> pd.DataFrame:
    """Score every post of the lake's social_posts table and commit ``features/post_sentiment``.

    Reads ``clean/social_posts`` when it exists, else ``raw/social_posts``. The batch id is
    derived from the source files, so running it again on unchanged posts changes nothing.
    ``con`` is an open :func:`patron.connect` backend (opened here when omitted). Returns
    the scored rows.
    """
    layer = _source_layer(lake)
    source_files = sorted(lake.files(layer, "social_posts"))
    batch_id = batch_id_for("post_sentiment", layer, *source_files)
    current = lake.files(LAYER, TABLE)
    if current and all(batch_id in path for path in current):
        log.info("features/%s is up to date (batch %s)", TABLE, batch_id)
        return lake.read(LAYER, TABLE)

    if con is None:
        from patron.engine import connect

        con = connect(lake=lake)
    posts = con.table(f"{layer}_social_posts")
    keep = [c for c in (*POST_COLUMNS, "text") if c in posts.columns]
    scored = score_posts(posts.select(*keep))
    scored = scored.drop(columns=["text"])
    for column in _SCHEMA:
        if column not in scored.columns:
            scored[column] = None
    scored = scored[list(_SCHEMA)]
    table = pa.Table.from_pandas(scored, schema=pa.schema(_SCHEMA), preserve_index=False)
    lake.write_arrow(
        table,
        LAYER,
        TABLE,
        batch_id=batch_id,
        meta={"rows": table.num_rows, "source": f"{layer}/social_posts"},
    )
    log.info("wrote %d scored posts to features/%s", table.num_rows, TABLE)
    return scored
