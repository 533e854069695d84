"""engramdb: a memory engine for AI agents that remembers and learns the way people do.

Only re-exports live here; see ``Memory`` for the entry point.
"""

from engramdb.clock import Clock, FixedClock, SystemClock
from engramdb.config import Limits, Settings
from engramdb.errors import (
    EmbeddingError,
    EngramError,
    IntegrityError,
    InvalidInputError,
    LimitExceededError,
    ModelIntegrityError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from engramdb.memory import Memory
from engramdb.model import Contribution, Engram, Explanation, Hit, NamespaceStats, Version

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Contribution",
    "EmbeddingError",
    "Engram",
    "EngramError",
    "Explanation",
    "FixedClock",
    "Hit",
    "IntegrityError",
    "InvalidInputError",
    "LimitExceededError",
    "Limits",
    "Memory",
    "ModelIntegrityError",
    "NamespaceStats",
    "NotFoundError",
    "SchemaError",
    "Settings",
    "StoreError",
    "SystemClock",
    "Version",
    "__version__",
]
