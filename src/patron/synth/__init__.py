"""Seeded synthetic customer data with known ground truth.

:func:`generate` writes a multi-source data set (CRM export and Excel updates, orders as
Parquet and CSV, web sessions as JSON lines, support tickets, social posts and reviews,
marketing touches) whose customers follow a latent-type BG/NBD / Gamma-Gamma model, plus
``ground_truth.parquet`` with every customer's true type, purchase rate, drop-out and
mean order value, and ``dirt_log.json`` with the defects injected per file.
"""

from patron.synth._generate import ALL, JSON_ARRAY_MAX_POSTS, OrdersFormat, SynthResult, generate
from patron.synth._model import CATEGORIES, TYPE_NAMES

__all__ = [
    "ALL",
    "CATEGORIES",
    "JSON_ARRAY_MAX_POSTS",
    "TYPE_NAMES",
    "OrdersFormat",
    "SynthResult",
    "generate",
]
