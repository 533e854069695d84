"""engramdb: a memory engine for AI agents that remembers and learns the way people do.

Only re-exports live here; see ``Memory`` for the entry point.
"""

from engramdb.aio import AsyncMemory
from engramdb.api import MemoryAPI
from engramdb.client import AsyncClient, Client
from engramdb.clock import Clock, FixedClock, SystemClock
from engramdb.config import EncryptionKey, Limits, Settings
from engramdb.errors import (
    AccessDeniedError,
    ConflictError,
    DecryptionError,
    EmbeddingError,
    EngramError,
    IntegrityError,
    InvalidInputError,
    LimitExceededError,
    MissingExtraError,
    ModelIntegrityError,
    NotFoundError,
    RateLimitedError,
    SchemaError,
    StoreError,
)
from engramdb.memory import Memory
from engramdb.model import (
    Budget,
    Concept,
    ConsolidationReport,
    ContextBundle,
    ContextItem,
    Contribution,
    Deletion,
    Engram,
    Experience,
    ExperienceHit,
    Explanation,
    Fact,
    Feedback,
    Hit,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    ProfileEntry,
    ProfileProposal,
    SignalWeight,
    Version,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "AsyncClient",
    "AsyncMemory",
    "Budget",
    "Client",
    "Clock",
    "Concept",
    "ConflictError",
    "ConsolidationReport",
    "ContextBundle",
    "ContextItem",
    "Contribution",
    "DecryptionError",
    "Deletion",
    "EmbeddingError",
    "EncryptionKey",
    "Engram",
    "EngramError",
    "Experience",
    "ExperienceHit",
    "Explanation",
    "Fact",
    "Feedback",
    "FixedClock",
    "Hit",
    "IntegrityError",
    "InvalidInputError",
    "LimitExceededError",
    "Limits",
    "Memory",
    "MemoryAPI",
    "MissingExtraError",
    "ModelIntegrityError",
    "Mood",
    "NamespaceStats",
    "NamespaceWeights",
    "NotFoundError",
    "Page",
    "ProfileEntry",
    "ProfileProposal",
    "RateLimitedError",
    "SchemaError",
    "Settings",
    "SignalWeight",
    "StoreError",
    "SystemClock",
    "Version",
    "__version__",
]
