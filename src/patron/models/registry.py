"""The model registry: every trained model with what it takes to trust and reproduce it.

Layout (default root ``<lake>/_models``, or ``[models] registry_path``)::

    <root>/<name>/v<N>/model.skops   the estimator, serialised with skops (no pickle)
    <root>/<name>/v<N>/meta.json     version, time, training window, features, label
                                     definition, metrics, library versions
    <root>/<name>/promoted.json      which version scoring uses

``name`` is ``churn``, ``purchase_7d``, ``purchase_30d``, ``spend``, ``clv`` or
``segments``. Models live inside the lake folder so that a copied or backed-up lake
carries the models that scored it; the leading underscore keeps the folder out of the
lake's layers. A version is written to a temporary folder and renamed into place, and
promotion replaces one small file atomically, so a crash never leaves half a model.

Loading uses skops' safe loader: only types from scikit-learn, NumPy, SciPy and patron
are trusted; anything else in a file is refused with a ``ModelError``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from patron.errors import ModelError

log = logging.getLogger(__name__)

REGISTRY_DIR = "_models"
MODEL_FILE = "model.skops"
META_FILE = "meta.json"
PROMOTED_FILE = "promoted.json"
#: module prefixes of types a saved model may contain
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "patron.", "builtins.", "collections.")
_LIBRARIES = ("patron", "scikit-learn", "numpy", "scipy", "pandas", "skops", "shap")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on (``None`` when absent)."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class ModelRecord:
    """The metadata of one saved model version (``meta.json``)."""

    name: str
    version: str
    created_at: str
    estimator: str
    params: dict[str, Any]
    features: list[str]
    label: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    promoted: bool = False
    path: str = ""

    @property
    def tag(self) -> str:
        """``<name>-<version>``, the value of ``model_version`` in score tables."""
        return f"{self.name}-{self.version}"


def _plain(value: Any) -> Any:
    from patron.evaluation._backtest import _plain as plain

    return plain(value)


class ModelRegistry:
    """Save, list, promote and load models under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    @classmethod
    def from_settings(cls, settings: Any) -> ModelRegistry:
        configured = getattr(getattr(settings, "models", None), "registry_path", "")
        if configured:
            path = Path(configured).expanduser()
            return cls(path if path.is_absolute() else settings.root / path)
        return cls(settings.lake_path / REGISTRY_DIR)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- writing ----------------------------------------------------------------------
    def save(
        self,
        model: Any,
        name: str,
        *,
        features: list[str] | None = None,
        label: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        promote: bool | None = None,
    ) -> ModelRecord:
        """Store a fitted model as the next version of ``name``.

        ``promote=None`` promotes it when ``name`` has no promoted version yet (the first
        model is the one in use); ``True``/``False`` decide explicitly.
        """
        import skops.io as sio

        if not _safe_name(name):
            raise ModelError(f"model name {name!r}: use letters, digits and underscores")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            sio.dump(model, staging / MODEL_FILE)
            names = features if features is not None else [
                str(c) for c in getattr(model, "feature_names_in_", getattr(model, "features_",
                                                                            []))]
            record = ModelRecord(
                name=name, version="", created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                estimator=type(model).__name__,
                params=_plain({k: v for k, v in model.get_params(deep=False).items()
                               if isinstance(v, (str, int, float, bool, type(None), tuple))}),
                features=list(names), label=label, training=_plain(training or {}),
                metrics=_plain(metrics or {}), libraries=library_versions(),
            )
            version_dir = self._commit(folder, staging, record)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        if promote or (promote is None and self.promoted_version(name) is None):
            self.promote(name, record.version)
            record.promoted = True
        log.info("saved %s to %s", record.tag, version_dir)
        return record

    def _commit(self, folder: Path, staging: Path, record: ModelRecord) -> Path:
        for _ in range(100):  # another process may take the same number: try the next
            number = 1 + max((_number(p.name) for p in folder.glob("v*")), default=0)
            record.version = f"v{number}"
            record.path = str(folder / record.version)
            (staging / META_FILE).write_text(json.dumps(asdict(record), indent=2),
                                             encoding="utf-8")
            target = folder / record.version
            try:
                os.rename(staging, target)
            except OSError:
                if target.exists():
                    continue
                raise
            return target
        raise ModelError(f"could not allocate a version for {record.name} in {folder}")

    def promote(self, name: str, version: str) -> ModelRecord:
        """Make ``version`` the one :meth:`load` returns by default (used by scoring)."""
        record = self.get(name, version)
        target = self.root / name / PROMOTED_FILE
        tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps({"version": record.version,
                                   "promoted_at": datetime.now(UTC).isoformat(
                                       timespec="seconds")}), encoding="utf-8")
        os.replace(tmp, target)
        record.promoted = True
        log.info("promoted %s", record.tag)
        return record

    # -- reading ----------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def promoted_version(self, name: str) -> str | None:
        path = self.root / name / PROMOTED_FILE
        if not path.exists():
            return None
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])

    def versions(self, name: str) -> list[ModelRecord]:
        """Every version of ``name``, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        promoted = self.promoted_version(name)
        records = []
        for path in sorted(folder.glob("v*"), key=lambda p: _number(p.name)):
            meta = path / META_FILE
            if not meta.exists():
                continue
            data = json.loads(meta.read_text(encoding="utf-8"))
            data["promoted"] = data["version"] == promoted
            data["path"] = str(path)
            records.append(ModelRecord(**data))
        return records

    def list(self) -> list[ModelRecord]:
        """Every version of every model."""
        return [record for name in self.names() for record in self.versions(name)]

    def get(self, name: str, version: str | None = None) -> ModelRecord:
        """Metadata of ``version`` (default: the promoted one) of ``name``."""
        records = self.versions(name)
        if not records:
            known = ", ".join(self.names()) or "none"
            raise ModelError(f"no saved model named {name!r} in {self.root} (saved: {known})",
                             hint=f"train one with: patron train {name.split('_')[0]}")
        wanted = version or self.promoted_version(name)
        if wanted is None:
            raise ModelError(f"model {name!r} has no promoted version",
                             hint=f"patron models promote {name} {records[-1].version}")
        for record in records:
            if record.version == wanted:
                return record
        raise ModelError(f"model {name!r} has no version {wanted!r}; versions: "
                         f"{', '.join(r.version for r in records)}")

    def load(self, name: str, version: str | None = None) -> tuple[Any, ModelRecord]:
        """The estimator and its record (default: the promoted version)."""
        import skops.io as sio

        record = self.get(name, version)
        path = Path(record.path) / MODEL_FILE
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ModelError(f"{path} contains types patron does not trust: "
                             f"{', '.join(refused)}")
        return sio.load(path, trusted=untrusted), record


def _number(folder_name: str) -> int:
    try:
        return int(folder_name[1:])
    except ValueError:
        return 0


def _safe_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c == "_" for c in name)


def list_models(root: str | Path) -> list[dict[str, Any]]:
    """Every version of every model under ``root`` as plain dicts (for apps and JSON)."""
    return [asdict(record) | {"model_version": record.tag}
            for record in ModelRegistry(root).list()]
