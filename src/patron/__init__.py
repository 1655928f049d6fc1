"""patron: customer analytics from raw data to segments, churn risk and lifetime value."""

from patron.config import Settings
from patron.engine import connect
from patron.errors import ConfigError, ModelError, PatronError, SchemaError, SourceError
from patron.lake import Lake

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Lake",
    "ModelError",
    "PatronError",
    "SchemaError",
    "Settings",
    "SourceError",
    "__version__",
    "connect",
]
