"""Typed settings from ``patron.toml`` and ``PATRON_*`` environment variables.

Precedence, highest first: keyword arguments, environment variables
(``PATRON_LAKE__PATH=/data/lake``, nested keys joined by ``__``), ``patron.toml``,
defaults. Every section forbids unknown keys, so a typo is an error at start that names
the key, the bad value and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
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
    cold_path: str = Field(
        "lake-archive", description="cold tier for archived partitions: a path or a URL"
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
cold_path = "lake-archive"
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
"""
