"""Typed settings from ``patron.toml`` and ``PATRON_*`` environment variables.

Precedence, highest first: keyword arguments, environment variables
(``PATRON_LAKE__PATH=/data/lake``, nested keys joined by ``__``), ``patron.toml``,
defaults. Every section forbids unknown keys, so a typo is an error at start that names
the key, the bad value and what is allowed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from patron.errors import ConfigError

CONFIG_FILE = "patron.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LakeSettings(_Section):
    path: Path = Field(Path("lake"), description="lake root; relative to the config file")
    cold_path: str | None = Field(
        None, description="cold tier for archived partitions: a path or a URL; "
        "default: the lake's archive/ layer"
    )
    partition_by_region: bool = Field(False, description="add region= partitions to events")
    compact_below_mb: float = Field(
        32.0, gt=0, description="files smaller than this (MB) are merged by compaction"
    )


class EngineSettings(_Section):
    backend: Literal["duckdb", "spark"] = "duckdb"
    threads: int | None = Field(None, ge=1, description="DuckDB threads; default: all cores")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '4GB'")
    spark_master: str = "local[2]"


class IngestSettings(_Section):
    default_currency: str = Field("USD", min_length=3, max_length=3)
    encoding: str = Field("utf-8", description="CSV encoding, or 'auto' to detect")
    max_future_skew_hours: float = Field(
        24.0, ge=0, description="timestamps up to this far in the future are accepted (clock skew)"
    )


class StreamSettings(_Section):
    """``patron stream``: where the Kafka events come from and how they are batched."""

    bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers host:port")
    topic: str = Field("events", min_length=1, description="topic of JSON events")
    group: str = Field("patron", min_length=1, description="consumer group id")
    batch_events: int = Field(50_000, ge=1, description="events per micro-batch (at most)")
    batch_seconds: float = Field(
        1.0, gt=0, description="seconds a micro-batch may gather events before its commit"
    )


#: the canonical tables a ``[clean]`` rule can name (mirrors :data:`patron.schema.TABLES`)
CleanTable = Literal[
    "customers", "orders", "sessions", "support_tickets", "social_posts", "marketing"
]
MissingStrategy = Literal["mean", "median", "mode", "constant", "drop", "flag"]


class MissingRule(_Section):
    """What to do with a null in one column; ``value`` is the fill for ``constant``."""

    strategy: MissingStrategy
    value: str | float | bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `device = "mode"` is short for `device = { strategy = "mode" }`
        return {"strategy": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _constant_needs_value(self) -> MissingRule:
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value, e.g. { strategy = "
                             "\"constant\", value = \"other\" }")
        return self


class OutlierRule(_Section):
    """One outlier rule: ``iqr`` flags values outside [Q1 − k·IQR, Q3 + k·IQR] (k =
    ``threshold``), ``zscore`` values more than ``threshold`` sample standard deviations from
    the mean; both within ``group_by`` when given (e.g. prices within a category)."""

    column: str
    method: Literal["zscore", "iqr"] = "iqr"
    action: Literal["flag", "cap", "drop"] = "flag"
    threshold: float = Field(3.0, gt=0)
    group_by: str | None = None


def _default_missing() -> dict[str, dict[str, MissingRule]]:
    def rule(strategy: str, value: str | None = None) -> MissingRule:
        return MissingRule(strategy=strategy, value=value)  # type: ignore[arg-type]

    return {
        "customers": {"gender": rule("constant", "unknown"), "region": rule("flag")},
        "orders": {"category": rule("constant", "Other"), "device": rule("constant", "other"),
                   "region": rule("mode")},
        "sessions": {"device": rule("constant", "other"), "source": rule("constant", "(none)"),
                     "medium": rule("constant", "(none)")},
        "support_tickets": {"satisfaction": rule("flag"), "category": rule("constant", "other")},
        "social_posts": {"platform": rule("constant", "unknown")},
    }


def _default_outliers() -> dict[str, list[OutlierRule]]:
    return {
        "orders": [
            OutlierRule(column="quantity", method="zscore", action="drop", threshold=6.0),
            OutlierRule(column="unit_price", method="zscore", action="drop", threshold=6.0,
                        group_by="category"),
        ],
        "sessions": [
            OutlierRule(column="duration_s", method="zscore", action="cap", threshold=6.0),
            OutlierRule(column="pages", method="zscore", action="cap", threshold=6.0),
        ],
    }


#: the product categories synthetic data and most retail exports use
DEFAULT_CATEGORIES = ("Electronics", "Apparel", "Home", "Beauty", "Sports", "Books", "Grocery",
                      "Toys")


class CleanSettings(_Section):
    """Rules of ``patron clean`` (raw → clean). See :mod:`patron.clean`."""

    dedupe_content: bool = Field(
        True, description="also drop rows whose content repeats under a different event_id"
    )
    missing: dict[CleanTable, dict[str, MissingRule]] = Field(default_factory=_default_missing)
    outliers: dict[CleanTable, list[OutlierRule]] = Field(default_factory=_default_outliers)
    categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES),
        description="known order categories; matched after trimming and ignoring case",
    )
    category_aliases: dict[str, str] = Field(
        default_factory=dict, description="other spellings → a known category, e.g. toys!! = Toys"
    )
    other_category: str = Field("Other", min_length=1, description="label of unknown categories")


ModelAlgorithm = Literal["logistic", "random_forest", "gradient_boosting"]


class ModelSettings(_Section):
    """Label definitions and training options of ``patron train`` (see :mod:`patron.models`).

    Windows are in days. A customer *churns* at a cut-off when they bought within
    ``churn_lookback_days`` before it and not within ``churn_horizon_days`` from it.
    """

    churn_lookback_days: int = Field(365, ge=1, description="active = bought in these days")
    churn_horizon_days: int = Field(90, ge=1, description="churn = no purchase in these days")
    purchase_horizons_days: list[int] = Field(
        default_factory=lambda: [7, 30], min_length=1, description="purchase-in-H-days labels"
    )
    spend_horizon_days: int = Field(30, ge=1, description="spend = revenue in these days")
    clv_horizon_days: int = Field(365, ge=1, description="CLV = revenue in these days")
    training_cutoffs: int = Field(3, ge=1, le=24, description="rolling snapshots per training set")
    cutoff_spacing_days: int = Field(60, ge=1, description="days between training snapshots")
    algorithm: ModelAlgorithm = Field("gradient_boosting", description="default classifier")
    segments_min: int = Field(3, ge=2, description="smallest k tried by the segmenter")
    segments_max: int = Field(7, ge=2, description="largest k tried by the segmenter")
    registry_path: str = Field(
        "", description="folder of saved models; empty: <lake>/_models"
    )


class ApiSettings(_Section):
    """``patron serve``: who may call the scoring API (header ``X-API-Key``)."""

    keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="accepted API keys; also PATRON_API__KEYS as a JSON list or 'k1,k2'",
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [k.strip() for k in text.split(",") if k.strip()]
        return value


class Settings(BaseSettings):
    """All of patron's settings. ``Settings.load()`` is the one way to build them."""

    model_config = SettingsConfigDict(
        env_prefix="PATRON_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    lake: LakeSettings = Field(default_factory=LakeSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    #: directory that relative paths are resolved against (the config file's folder)
    root: Path = Field(default_factory=Path.cwd, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE_OVERRIDE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: Any) -> Settings:
        """Read settings from ``config`` (or ``$PATRON_CONFIG``, or ``./patron.toml``)."""
        path = _find_config(config)
        root = path.parent if path is not None else Path.cwd()
        _TOML_FILE_OVERRIDE["path"] = path
        try:
            settings = cls(root=root, **overrides)
        except ValidationError as exc:
            raise ConfigError(
                _describe(exc, path), hint="see `patron init` for a commented patron.toml"
            ) from None
        except ValueError as exc:  # malformed TOML
            raise ConfigError(f"{path}: cannot parse: {exc}") from None
        finally:
            _TOML_FILE_OVERRIDE.pop("path", None)
        return settings

    @property
    def lake_path(self) -> Path:
        path = self.lake.path.expanduser()
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def cold_path(self) -> str:
        cold = self.lake.cold_path
        if not cold:
            return str(self.lake_path / "archive")
        if "://" in cold or Path(cold).is_absolute():
            return cold
        return str((self.root / cold).resolve())


_TOML_FILE_OVERRIDE: dict[str, Path | None] = {}


def _find_config(config: str | Path | None) -> Path | None:
    if config is not None:
        path = Path(config).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", hint="run `patron init`")
        return path.resolve()
    env = os.environ.get("PATRON_CONFIG")
    if env:
        return _find_config(env)
    local = Path.cwd() / CONFIG_FILE
    return local.resolve() if local.is_file() else None


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = str(path) if path is not None else "settings"
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r} (value {value!r})")
        else:
            problems.append(f"{key} = {value!r}: {err['msg']}")
    return f"{where}: " + "; ".join(problems)


DEFAULT_TOML = """\
# patron configuration. Every key can also be set by an environment variable:
# PATRON_<SECTION>__<KEY>, e.g. PATRON_ENGINE__BACKEND=spark.

[lake]
# Root of the Parquet lake, relative to this file.
path = "lake"
# Cold tier that `patron lake archive` moves old partitions to: a path or a URL.
# Unset, it is the lake's own archive/ layer.
# cold_path = "/mnt/cold/patron"
# Also partition event tables by region (region=EU/...), besides month=YYYY-MM.
partition_by_region = false
# Compaction merges files smaller than this many megabytes.
compact_below_mb = 32.0

[engine]
# "duckdb" (embedded, default) or "spark" (needs: pip install "patron[spark]").
backend = "duckdb"
# DuckDB worker threads and memory limit; unset means all cores / DuckDB's default.
# threads = 2
# memory_limit = "4GB"
spark_master = "local[2]"

[ingest]
# Currency assumed for order lines that do not say.
default_currency = "USD"
# Encoding of CSV files: "utf-8", "latin-1", "cp1252", ... or "auto" to detect.
encoding = "utf-8"
# Timestamps up to this many hours in the future are accepted (clock skew).
max_future_skew_hours = 24.0

[stream]
# patron stream: Kafka bootstrap servers, topic of JSON events and consumer group.
bootstrap = "127.0.0.1:9092"
topic = "events"
group = "patron"
# A micro-batch is committed to the lake at this many events or after this many seconds.
batch_events = 50000
batch_seconds = 1.0

[clean]
# Also drop rows whose content repeats under a different event_id (same order line
# exported twice with different ids). Rows with the same event_id are always deduplicated.
dedupe_content = true
# Known order categories, matched after trimming and ignoring case ("electronics " →
# "Electronics"); anything else becomes other_category. Aliases add other spellings.
categories = ["Electronics", "Apparel", "Home", "Beauty", "Sports", "Books", "Grocery", "Toys"]
other_category = "Other"
# category_aliases = { "toys!!" = "Toys" }

# Missing values, per table and column: "mean", "median", "mode", "drop" (remove the row),
# "flag" (keep the null, add <column>_missing) or { strategy = "constant", value = ... }.
[clean.missing.customers]
gender = { strategy = "constant", value = "unknown" }
region = "flag"

[clean.missing.orders]
category = { strategy = "constant", value = "Other" }
device = { strategy = "constant", value = "other" }
region = "mode"

[clean.missing.sessions]
device = { strategy = "constant", value = "other" }
source = { strategy = "constant", value = "(none)" }
medium = { strategy = "constant", value = "(none)" }

[clean.missing.support_tickets]
satisfaction = "flag"
category = { strategy = "constant", value = "other" }

[clean.missing.social_posts]
platform = { strategy = "constant", value = "unknown" }

# Outliers, per table: method "iqr" (outside Q1 - k*IQR .. Q3 + k*IQR, k = threshold) or
# "zscore" (more than threshold standard deviations from the mean), optionally within a
# group; action "flag" (add <column>_outlier), "cap" (clip to the bounds) or "drop".
[[clean.outliers.orders]]
column = "quantity"
method = "zscore"
action = "drop"
threshold = 6.0

[[clean.outliers.orders]]
column = "unit_price"
method = "zscore"
action = "drop"
threshold = 6.0
group_by = "category"

[[clean.outliers.sessions]]
column = "duration_s"
method = "zscore"
action = "cap"
threshold = 6.0

[[clean.outliers.sessions]]
column = "pages"
method = "zscore"
action = "cap"
threshold = 6.0

[models]
# Labels, per cut-off date (windows in days). Churn: bought in the look-back window before
# the cut-off and not in the horizon after it. Purchase: bought within each horizon.
churn_lookback_days = 365
churn_horizon_days = 90
purchase_horizons_days = [7, 30]
spend_horizon_days = 30
clv_horizon_days = 365
# Training stacks this many cut-offs, spaced this many days apart (rolling snapshots).
training_cutoffs = 3
cutoff_spacing_days = 60
# Default classifier: "gradient_boosting", "random_forest" or "logistic".
algorithm = "gradient_boosting"
# The segmenter tries k = segments_min .. segments_max and keeps the best silhouette.
segments_min = 3
segments_max = 7
# Where trained models are kept; empty means <lake>/_models.
registry_path = ""

[api]
# Keys accepted by `patron serve` in the X-API-Key header. Prefer the environment:
# PATRON_API__KEYS='["key-1", "key-2"]' (or "key-1,key-2"), so keys stay out of files.
keys = []
"""
