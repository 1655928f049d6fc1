"""The canonical tables every source is mapped onto.

A :class:`TableSpec` lists typed columns with the value rules that ingest validation
enforces. Ingest, validation, synthetic data and tests all read these specs, so a rule
lives in exactly one place.

Types are logical names (``string``, ``int64``, ``float64``, ``bool``, ``timestamp``,
``date``); :data:`DUCKDB_TYPES` and :data:`ARROW_TYPES` translate them for each engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

LogicalType = Literal["string", "int64", "float64", "bool", "timestamp", "date"]

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}

#: Columns patron adds to every row it stores in the lake. ``_source_row`` is, in the
#: quarantine, the row of the source a user can open (for CSV the line, header counted;
#: for Kafka the offset); in the raw layer the number of the record among those the reader
#: parsed, which is the line number minus the header unless earlier lines were quarantined.
LINEAGE_COLUMNS: tuple[str, ...] = ("event_id", "_batch_id", "_ingested_at", "_source_row")


@dataclass(frozen=True)
class Column:
    """One canonical column and the rules a value must satisfy.

    ``required`` columns must be mapped from the source (or given a default) and may not be
    null. ``allowed`` is a closed vocabulary compared after trimming and lower-casing.
    ``minimum``/``maximum`` bound numbers (inclusive); ``not_zero`` forbids 0;
    ``not_future`` forbids timestamps after the moment of ingest.
    """

    name: str
    dtype: LogicalType
    required: bool = False
    description: str = ""
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    not_zero: bool = False
    not_future: bool = False
    default: object | None = None

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.dtype]


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns, the columns that identify one event, and its clock."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str
    partition_by_month: bool = True
    description: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required and c.default is None]

    def arrow_schema(self, *, lineage: bool = True) -> pa.Schema:
        fields = [pa.field(c.name, ARROW_TYPES[c.dtype]) for c in self.columns]
        if lineage:
            fields += [
                pa.field("event_id", pa.string()),
                pa.field("_batch_id", pa.string()),
                pa.field("_ingested_at", pa.timestamp("us")),
                pa.field("_source_row", pa.int64()),
            ]
        return pa.schema(fields)


ORDER_STATUSES = ("completed", "returned", "cancelled")
ORDER_CHANNELS = ("web", "app", "store", "phone", "marketplace")
DEVICES = ("desktop", "mobile", "tablet", "other")

CUSTOMERS = TableSpec(
    name="customers",
    description="One row per customer version from a CRM or sign-up system.",
    key=("customer_id",),
    time_column="signup_date",
    partition_by_month=False,
    columns=(
        Column("customer_id", "string", required=True, description="stable customer key"),
        Column("signup_date", "date", not_future=True, description="first known date"),
        Column("region", "string", description="sales region, e.g. EU, NA"),
        Column("country", "string", description="ISO country code or name"),
        Column("channel", "string", description="acquisition channel, e.g. organic, paid"),
        Column("birth_year", "int64", minimum=1900, maximum=2026),
        Column("gender", "string"),
        Column("email_opt_in", "bool"),
        Column("updated_at", "timestamp", not_future=True, description="version time"),
    ),
)

ORDERS = TableSpec(
    name="orders",
    description="One row per order line. Guest orders have no customer_id.",
    key=("order_id", "line_id"),
    time_column="ts",
    columns=(
        Column("order_id", "string", required=True),
        Column("line_id", "string", description="line within the order; default: source row"),
        Column("customer_id", "string", description="null for guest checkout"),
        Column("ts", "timestamp", required=True, not_future=True, description="order time"),
        Column("product_id", "string"),
        Column("category", "string"),
        Column("quantity", "int64", required=True, not_zero=True, description="units"),
        Column("unit_price", "float64", required=True, minimum=0.0, description="currency"),
        Column("discount", "float64", minimum=0.0, default=0.0, description="currency off"),
        Column("revenue", "float64", description="currency; quantity × unit_price − discount"),
        Column("currency", "string", default="USD"),
        Column("channel", "string", allowed=ORDER_CHANNELS),
        Column("device", "string", allowed=DEVICES),
        Column("region", "string"),
        Column("status", "string", required=True, allowed=ORDER_STATUSES, default="completed"),
    ),
)

SESSIONS = TableSpec(
    name="sessions",
    description="Web and app analytics sessions; anonymous sessions have no customer_id.",
    key=("session_id",),
    time_column="ts",
    columns=(
        Column("session_id", "string", required=True),
        Column("customer_id", "string"),
        Column("ts", "timestamp", required=True, not_future=True),
        Column("device", "string", allowed=DEVICES),
        Column("channel", "string", allowed=("web", "app")),
        Column("source", "string", description="traffic source, e.g. google, newsletter"),
        Column("medium", "string", description="traffic medium, e.g. cpc, email, organic"),
        Column("pages", "int64", minimum=0),
        Column("duration_s", "float64", minimum=0.0, description="seconds"),
        Column("converted", "bool", default=False),
        Column("order_id", "string"),
    ),
)

SUPPORT_TICKETS = TableSpec(
    name="support_tickets",
    key=("ticket_id",),
    time_column="ts",
    columns=(
        Column("ticket_id", "string", required=True),
        Column("customer_id", "string", required=True),
        Column("ts", "timestamp", required=True, not_future=True),
        Column("category", "string"),
        Column("priority", "string", allowed=("low", "medium", "high", "urgent")),
        Column("resolved_ts", "timestamp"),
        Column("satisfaction", "float64", minimum=1.0, maximum=5.0, description="1–5 score"),
    ),
)

SOCIAL_POSTS = TableSpec(
    name="social_posts",
    description="Social comments and product reviews.",
    key=("post_id",),
    time_column="ts",
    columns=(
        Column("post_id", "string", required=True),
        Column("customer_id", "string"),
        Column("ts", "timestamp", required=True, not_future=True),
        Column("platform", "string"),
        Column("kind", "string", allowed=("post", "review", "comment"), default="post"),
        Column("text", "string", required=True),
        Column("rating", "float64", minimum=1.0, maximum=5.0, description="1–5 stars"),
    ),
)

MARKETING = TableSpec(
    name="marketing",
    description="Marketing touches and responses.",
    key=("campaign_id", "customer_id", "ts"),
    time_column="ts",
    columns=(
        Column("campaign_id", "string", required=True),
        Column("customer_id", "string", required=True),
        Column("ts", "timestamp", required=True, not_future=True),
        Column("kind", "string", allowed=("email", "push", "sms", "ad")),
        Column("opened", "bool", default=False),
        Column("clicked", "bool", default=False),
        Column("converted", "bool", default=False),
    ),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (CUSTOMERS, ORDERS, SESSIONS, SUPPORT_TICKETS, SOCIAL_POSTS, MARKETING)
}

TableKind = Literal[
    "customers", "orders", "sessions", "support_tickets", "social_posts", "marketing"
]


def table_spec(kind: str) -> TableSpec:
    """Return the spec of a canonical table, or raise ``SchemaError`` listing the known kinds."""
    from patron.errors import SchemaError

    try:
        return TABLES[kind]
    except KeyError:
        raise SchemaError(
            f"unknown table kind {kind!r}; expected one of: {', '.join(TABLES)}"
        ) from None
