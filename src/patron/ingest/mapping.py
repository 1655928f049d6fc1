"""Mappings: how the columns of a source become the columns of a canonical table.

A :class:`Mapping` says, for each canonical column, where its value comes from: a source
column, a DuckDB SQL expression over source columns, or a constant; with optional time
formats and value recoding. Presets cover patron's own exports and synthetic data
(``patron``), retail exports shaped like the UCI Online Retail data set (``uci-retail``) and
any other table, by guessing from column names (``generic``), which reports what it guessed.
Mappings can also be read from a TOML or JSON file.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from patron.errors import ConfigError, SchemaError
from patron.schema import TABLES, TableKind, table_spec

#: values read as missing; "NA" is not among them because it is a region (North America)
DEFAULT_MISSING = ("", "n/a", "null", "none", "nan", "nat", "#n/a")


class ColumnMap(BaseModel):
    """Where one canonical column comes from. Exactly one of source, sql, const is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    sql: str | None = None
    const: str | int | float | bool | None = None
    formats: tuple[str, ...] | None = Field(
        None, description="strptime formats tried in order for timestamp/date columns"
    )
    values: dict[str, str] | None = Field(
        None, description="recoding of values, matched after trimming and lower-casing"
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        given = [k for k in ("source", "sql", "const") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"set exactly one of source, sql, const (got {given or 'none'})")
        return self


class Mapping(BaseModel):
    """A complete source → canonical mapping for one table kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    kind: TableKind
    columns: dict[str, ColumnMap]
    formats: tuple[str, ...] | None = Field(
        None, description="default strptime formats for every time column"
    )
    missing_values: tuple[str, ...] = DEFAULT_MISSING
    #: CSV reading options (delimiter, quote, header, encoding); None means detect
    delimiter: str | None = None
    quote: str | None = None
    header: bool = True
    encoding: str | None = None
    #: filled by the generic preset: canonical column → the source column guessed
    guessed: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_columns(self) -> Mapping:
        spec = TABLES[self.kind]
        unknown = [c for c in self.columns if c not in spec and c != "event_id"]
        if unknown:
            raise ValueError(
                f"mapping {self.name!r} names column(s) {unknown} that {self.kind} does not have; "
                f"expected some of: {', '.join(spec.names)}"
            )
        return self

    def signature(self) -> str:
        """A stable text of what the mapping does (part of a batch id)."""
        return json.dumps(self.model_dump(exclude={"guessed"}), sort_keys=True, default=str)

    def describe(self) -> str:
        parts = []
        for canonical, cm in self.columns.items():
            origin = cm.source if cm.source is not None else (cm.sql or repr(cm.const))
            parts.append(f"{canonical} ← {origin}")
        return f"{self.name} ({self.kind}): " + ", ".join(parts)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: source-column spellings that the generic preset recognises, per canonical column
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "custid",
        "customer",
        "clientid",
        "userid",
        "memberid",
        "customerno",
        "customernumber",
        "accountid",
        "buyerid",
    ),
    "order_id": (
        "orderid",
        "invoiceno",
        "invoice",
        "orderno",
        "ordernumber",
        "transactionid",
        "invoiceid",
        "receiptid",
    ),
    "line_id": ("lineid", "lineno", "linenumber", "itemno", "orderlineid"),
    "ts": (
        "ts",
        "timestamp",
        "orderdate",
        "invoicedate",
        "orderts",
        "datetime",
        "date",
        "createdat",
        "eventtime",
        "time",
        "purchasedate",
        "transactiondate",
        "sessionstart",
        "postedat",
    ),
    "product_id": ("productid", "stockcode", "sku", "itemid", "productcode", "articleid"),
    "category": ("category", "productcategory", "department", "categoryname"),
    "quantity": ("quantity", "qty", "units", "count"),
    "unit_price": ("unitprice", "price", "itemprice", "priceeach"),
    "discount": ("discount", "discountamount", "rebate"),
    "revenue": ("revenue", "amount", "total", "linetotal", "sales", "value", "totalprice"),
    "currency": ("currency", "currencycode"),
    "channel": ("channel", "saleschannel", "acquisitionchannel"),
    "device": ("device", "devicetype", "devicecategory"),
    "region": ("region", "salesregion", "market", "country"),
    "country": ("country", "countrycode"),
    "status": ("status", "orderstatus", "state"),
    "signup_date": ("signupdate", "registrationdate", "createdat", "joindate", "firstseen"),
    "birth_year": ("birthyear", "yearofbirth"),
    "gender": ("gender", "sex"),
    "email_opt_in": ("emailoptin", "optin", "newsletter", "marketingconsent"),
    "updated_at": ("updatedat", "modifiedat", "lastmodified"),
    "session_id": ("sessionid", "visitid"),
    "source": ("source", "utmsource", "trafficsource"),
    "medium": ("medium", "utmmedium"),
    "pages": ("pages", "pageviews", "pagecount"),
    "duration_s": ("durations", "duration", "sessionduration", "durationseconds"),
    "converted": ("converted", "conversion", "purchased"),
    "ticket_id": ("ticketid", "caseid"),
    "priority": ("priority", "severity"),
    "resolved_ts": ("resolvedts", "resolvedat", "closedat"),
    "satisfaction": ("satisfaction", "csat", "satisfactionscore"),
    "post_id": ("postid", "reviewid", "commentid"),
    "platform": ("platform", "network", "site"),
    "kind": ("kind", "type", "posttype"),
    "text": ("text", "body", "comment", "review", "content", "message"),
    "rating": ("rating", "stars", "score"),
    "campaign_id": ("campaignid", "campaign"),
    "opened": ("opened", "open"),
    "clicked": ("clicked", "click"),
    "event_id": ("eventid",),
}


def identity_mapping(kind: str, source_columns: list[str], *, name: str = "patron") -> Mapping:
    """Map every canonical column that the source has under its canonical name."""
    spec = table_spec(kind)
    by_norm = {c.lower(): c for c in source_columns}
    columns = {c: ColumnMap(source=by_norm[c]) for c in [*spec.names, "event_id"] if c in by_norm}
    return Mapping(name=name, kind=kind, columns=columns)


def guess_mapping(kind: str, source_columns: list[str]) -> Mapping:
    """The generic preset: match source columns to canonical ones by name and synonyms."""
    spec = table_spec(kind)
    available = {_normalise(c): c for c in source_columns}
    used: set[str] = set()
    columns: dict[str, ColumnMap] = {}
    guessed: dict[str, str] = {}
    for canonical in [*spec.names, "event_id"]:
        for candidate in (_normalise(canonical), *SYNONYMS.get(canonical, ())):
            source = available.get(candidate)
            if source is not None and source not in used:
                columns[canonical] = ColumnMap(source=source)
                guessed[canonical] = source
                used.add(source)
                break
    return Mapping(name="generic", kind=kind, columns=columns, guessed=guessed)


def uci_retail_mapping(source_columns: list[str]) -> Mapping:
    """Retail exports shaped like the UCI Online Retail data set.

    ``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
    Country``; an invoice number starting with ``C`` is a cancellation. ``CustomerID`` is
    often exported as a float (``17850.0``): the trailing ``.0`` is dropped.
    """
    del source_columns
    return Mapping(
        name="uci-retail",
        kind="orders",
        columns={
            "order_id": ColumnMap(source="InvoiceNo"),
            "product_id": ColumnMap(source="StockCode"),
            "quantity": ColumnMap(source="Quantity"),
            "ts": ColumnMap(
                source="InvoiceDate",
                formats=("%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"),
            ),
            "unit_price": ColumnMap(source="UnitPrice"),
            "customer_id": ColumnMap(
                sql="regexp_replace(CAST(\"CustomerID\" AS VARCHAR), '\\.0$', '')"
            ),
            "region": ColumnMap(source="Country"),
            "status": ColumnMap(
                sql="CASE WHEN upper(CAST(\"InvoiceNo\" AS VARCHAR)) LIKE 'C%' "
                "THEN 'cancelled' ELSE 'completed' END"
            ),
        },
    )


PRESETS = ("patron", "uci-retail", "generic")


def resolve_mapping(
    kind: str | None,
    source_columns: list[str],
    *,
    preset: str | None = None,
    mapping_file: str | Path | None = None,
) -> Mapping:
    """Choose the mapping for a source: a file, a named preset, or the best guess."""
    if mapping_file is not None:
        return load_mapping(mapping_file, kind)
    if preset == "uci-retail":
        return uci_retail_mapping(source_columns)
    if kind is None:
        raise SchemaError("the table kind is not known; pass --kind (e.g. --kind orders)")
    if preset == "patron":
        return identity_mapping(kind, source_columns)
    if preset in (None, "generic"):
        identity = identity_mapping(kind, source_columns)
        if preset is None and not missing_required(identity, kind):
            return identity
        return guess_mapping(kind, source_columns)
    raise ConfigError(f"unknown mapping preset {preset!r}; expected one of: {', '.join(PRESETS)}")


def load_mapping(path: str | Path, kind: str | None = None) -> Mapping:
    """Read a mapping from TOML or JSON. Columns may be written as a bare source name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        payload: dict[str, Any] = (
            json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        )
    except FileNotFoundError:
        raise ConfigError(f"mapping file {path} does not exist") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"mapping file {path}: cannot parse: {exc}") from None
    if kind is not None:
        payload.setdefault("kind", kind)
    payload.setdefault("name", path.stem)
    columns = payload.get("columns", {})
    payload["columns"] = {k: {"source": v} if isinstance(v, str) else v for k, v in columns.items()}
    try:
        return Mapping.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"mapping file {path}: {problems}") from None


def missing_required(mapping: Mapping, kind: str) -> list[str]:
    """Required canonical columns the mapping provides no value for."""
    spec = table_spec(kind)
    return [c for c in spec.required if c not in mapping.columns]
