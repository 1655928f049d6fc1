"""Text analytics: VADER sentiment of social posts and reviews, per post and per customer."""

from patron.text._sentiment import (
    LABELS,
    NEGATIVE_THRESHOLD,
    POSITIVE_THRESHOLD,
    analyzer,
    compound_scores,
    customer_sentiment,
    score_posts,
    sentiment_labels,
)
from patron.text._store import write_post_sentiment

__all__ = [
    "LABELS",
    "NEGATIVE_THRESHOLD",
    "POSITIVE_THRESHOLD",
    "analyzer",
    "compound_scores",
    "customer_sentiment",
    "score_posts",
    "sentiment_labels",
    "write_post_sentiment",
]
