"""VADER sentiment: labels on known sentences, scoring distinct texts once, lake table."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from patron import text
from patron.text import (
    compound_scores,
    customer_sentiment,
    score_posts,
    sentiment_labels,
    write_post_sentiment,
)


def _posts() -> pd.DataFrame:
    texts = [
        "I love this shop, great service!",
        "Terrible delivery, the box was broken and support never answered.",
        "The parcel arrived on Tuesday.",
        "I love this shop, great service!",
        "",
        None,
    ]
    frame = pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(len(texts))],
            "customer_id": ["c1", "c2", "c1", None, "c3", "c3"],
            "ts": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04", "2024-03-05",
                                  "2024-03-06", "2024-03-07"]),
            "platform": ["twitter", "trustpilot", "twitter", "instagram", "twitter", "x"],
            "kind": ["post", "review", "comment", "post", "post", "post"],
            "text": texts,
            "rating": [5.0, 1.0, None, None, None, None],
        }
    )
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["text"] = frame["text"].astype("string")
    return frame


@pytest.mark.parametrize(
    ("sentence", "label"),
    [
        ("I love this shop, great service!", "positive"),
        ("Absolutely fantastic quality, will buy again :)", "positive"),
        ("Terrible delivery, the box was broken.", "negative"),
        ("Worst customer service ever, I want a refund.", "negative"),
        ("The parcel arrived on Tuesday.", "neutral"),
        ("My order was shipped from the warehouse.", "neutral"),
    ],
)
def test_known_sentences_get_the_expected_label(sentence, label):
    score = compound_scores([sentence])
    assert sentiment_labels(score)[0] == label


def test_labels_use_the_standard_thresholds():
    labels = sentiment_labels([0.05, 0.0499, -0.0499, -0.05, np.nan])
    assert labels.tolist() == ["positive", "neutral", "neutral", "negative", None]


def test_each_distinct_text_is_scored_once(monkeypatch):
    analyzer = text.analyzer()
    calls: list[str] = []
    original = analyzer.polarity_scores

    def counting(sentence):
        calls.append(sentence)
        return original(sentence)

    monkeypatch.setattr(analyzer, "polarity_scores", counting)
    scores = compound_scores(["good", "bad", "good", None, "good", "  "])
    assert sorted(calls) == ["bad", "good"]
    assert scores[0] == scores[2] == scores[4] > 0.05
    assert scores[1] < -0.05
    assert np.isnan(scores[3]) and np.isnan(scores[5])


def test_score_posts_adds_columns_without_touching_the_input():
    posts = _posts()
    scored = score_posts(posts)
    assert "sentiment" not in posts.columns
    assert scored["sentiment_label"].tolist() == [
        "positive", "negative", "neutral", "positive", None, None
    ]
    assert scored["sentiment"].between(-1, 1).sum() == 4
    table_scored = score_posts(ibis.memtable(posts))
    np.testing.assert_allclose(table_scored["sentiment"], scored["sentiment"])


def test_customer_sentiment_respects_as_of_and_skips_anonymous_posts():
    scored = score_posts(_posts())
    table = ibis.memtable(scored)
    per = customer_sentiment(table).execute().set_index("customer_id").sort_index()
    assert per.index.tolist() == ["c1", "c2"]  # c3 has no scorable text; guest left out
    c1 = scored[scored.customer_id == "c1"]["sentiment"]
    assert per.loc["c1", "posts"] == 2
    assert per.loc["c1", "mean_sentiment"] == pytest.approx(c1.mean())
    assert per.loc["c1", "positive_share"] == pytest.approx(0.5)
    assert per.loc["c2", "negative_share"] == pytest.approx(1.0)
    early = customer_sentiment(table, as_of="2024-03-01").execute().set_index("customer_id")
    assert early.loc["c1", "posts"] == 1


def test_post_sentiment_is_written_to_the_features_layer_once(tmp_path):
    from patron.lake import Lake

    lake = Lake(tmp_path / "lake")
    lake.write_arrow(_posts(), "raw", "social_posts", batch_id="posts1")
    scored = write_post_sentiment(lake)
    stored = lake.read("features", "post_sentiment")
    assert len(stored) == len(scored) == 6
    assert {"post_id", "customer_id", "ts", "sentiment", "sentiment_label"} <= set(stored.columns)
    assert "text" not in stored.columns
    commits = len(lake.entries())
    write_post_sentiment(lake)  # unchanged source: no new commit
    assert len(lake.entries()) == commits
    lake.write_arrow(_posts().head(3), "clean", "social_posts", batch_id="clean1")
    assert len(write_post_sentiment(lake)) == 3  # the clean layer wins once it exists
    assert len(lake.read("features", "post_sentiment")) == 3


def test_customer_sentiment_joined_to_all_customers():
    scored = score_posts(_posts())
    customers = ibis.memtable({"customer_id": ["c1", "c2", "c9", "c9"]})
    per = customer_sentiment(ibis.memtable(scored), customers=customers).execute()
    per = per.set_index("customer_id").sort_index()
    assert per.index.tolist() == ["c1", "c2", "c9"]
    assert per["posts"].tolist() == [2, 1, 0]
    assert np.isnan(per.loc["c9", "mean_sentiment"])
