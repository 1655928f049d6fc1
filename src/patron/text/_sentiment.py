"""Sentiment of social posts and reviews with VADER (Hutto & Gilbert, ICWSM 2014).

VADER is a lexicon and rule model tuned for short social-media text: it needs no
training, no network (the lexicon ships inside the ``vaderSentiment`` wheel) and scores a
sentence in about 30 µs. Its ``compound`` score is a normalised sum of word valences in
[−1, 1]; the labels use the thresholds its authors recommend:

* ``positive`` when compound ≥ 0.05,
* ``negative`` when compound ≤ −0.05,
* ``neutral`` otherwise.

VADER itself scores one string at a time in Python, so the vectorised entry points here
score each *distinct* text once (reviews and campaign replies repeat a lot) and broadcast
the result back, and reuse one analyzer (building it parses the lexicon, ~50 ms).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: compound score at or above which a text is positive (VADER authors' threshold)
POSITIVE_THRESHOLD = 0.05
#: compound score at or below which a text is negative
NEGATIVE_THRESHOLD = -0.05
LABELS = ("negative", "neutral", "positive")


@lru_cache(maxsize=1)
def analyzer() -> Any:
    """The shared VADER analyzer (built once per process)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_scores(texts: Iterable[str | None]) -> np.ndarray:
    """VADER compound score in [−1, 1] per text; missing or blank text gives NaN.

    Each distinct text is scored once, so the cost grows with the number of distinct
    texts, not rows.
    """
    values = pd.Series(list(texts) if not isinstance(texts, pd.Series) else texts, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    vader = analyzer()
    unique_scores = np.array(
        [
            vader.polarity_scores(text)["compound"]
            if isinstance(text, str) and text.strip()
            else np.nan
            for text in uniques
        ],
        dtype="float64",
    )
    log.debug("scored %d distinct texts for %d rows", len(uniques), len(values))
    scores = np.full(len(values), np.nan)
    known = codes >= 0
    scores[known] = unique_scores[codes[known]]
    return scores


def sentiment_labels(compound: Any) -> np.ndarray:
    """``positive`` / ``neutral`` / ``negative`` per compound score (None for NaN)."""
    scores = np.asarray(compound, dtype="float64")
    labels = np.where(
        scores >= POSITIVE_THRESHOLD,
        "positive",
        np.where(scores <= NEGATIVE_THRESHOLD, "negative", "neutral"),
    ).astype(object)
    labels[np.isnan(scores)] = None
    return labels


def score_posts(posts: pd.DataFrame | ir.Table, *, text_column: str = "text") -> pd.DataFrame:
    """Posts (a DataFrame or an Ibis table) with ``sentiment`` and ``sentiment_label`` added.

    ``sentiment`` is the VADER compound score in [−1, 1]; the input is not modified.
    """
    frame = posts.execute() if isinstance(posts, ir.Table) else posts.copy()
    if text_column not in frame.columns:
        from patron.errors import SchemaError

        raise SchemaError(
            f"posts have no {text_column!r} column; available: {list(frame.columns)}"
        )
    frame["sentiment"] = compound_scores(frame[text_column])
    labels = sentiment_labels(frame["sentiment"].to_numpy())
    frame["sentiment_label"] = pd.Series(labels, index=frame.index, dtype=object)
    return frame


def customer_sentiment(
    post_sentiment: ir.Table,
    *,
    as_of: date | datetime | str | None = None,
    customers: ir.Table | None = None,
) -> ir.Table:
    """Per-customer sentiment from scored posts, using only posts before ``as_of``.

    ``post_sentiment`` has ``customer_id, ts, sentiment, sentiment_label`` (the
    ``features/post_sentiment`` table, or :func:`score_posts` output as a memtable).
    Returns ``customer_id, posts, mean_sentiment`` (compound, −1…1), ``negative_share`` and
    ``positive_share`` (0–1) and ``last_post_ts``. Anonymous posts are left out.
    With ``customers`` (any table with ``customer_id``), every customer gets a row:
    ``posts = 0`` and null sentiment for those who never posted.
    """
    table = post_sentiment.filter(
        post_sentiment.customer_id.notnull() & post_sentiment.sentiment.notnull()
    )
    if as_of is not None:
        cutoff = pd.Timestamp(as_of).tz_localize(None).to_pydatetime()
        table = table.filter(table.ts < ibis.literal(cutoff))
    label = table.sentiment_label.lower()
    grouped = table.group_by("customer_id").aggregate(
        posts=table.count(),
        mean_sentiment=table.sentiment.mean(),
        negatives=(label == "negative").cast("int64").sum(),
        positives=(label == "positive").cast("int64").sum(),
        last_post_ts=table.ts.max(),
    )
    posts = grouped.posts.cast("float64")
    per_customer = grouped.select(
        "customer_id",
        "posts",
        "mean_sentiment",
        negative_share=grouped.negatives / posts,
        positive_share=grouped.positives / posts,
        last_post_ts=grouped.last_post_ts,
    )
    if customers is None:
        return per_customer
    everyone = customers.select(customer_id=customers.customer_id.cast("string")).distinct()
    everyone = everyone.filter(everyone.customer_id.notnull())
    joined = everyone.left_join(per_customer, "customer_id")
    return joined.select(
        everyone.customer_id,
        posts=joined.posts.fill_null(0),
        mean_sentiment=joined.mean_sentiment,
        negative_share=joined.negative_share,
        positive_share=joined.positive_share,
        last_post_ts=joined.last_post_ts,
    )
