"""The public surface cannot drift: exported names, the Memory contract, the error tree.

Changing anything pinned here changes the public Python contract (README.md and
the docstrings of ``Memory``), which benchmark harnesses and integrations depend
on: change it on purpose, with a CHANGELOG line.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

import engramdb
from engramdb import Memory

EMPTY = inspect.Parameter.empty
POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
KW = inspect.Parameter.KEYWORD_ONLY

EXPORTED = [
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

# (name, kind, default) per parameter after ``self``: the public contract.
CONTRACT: dict[str, list[tuple[str, Any, Any]]] = {
    "__init__": [
        ("location", POS, None),
        ("settings", KW, None),
        ("embedder", KW, None),
        ("clock", KW, None),
        ("store", KW, None),
        ("read_only", KW, False),
    ],
    "add": [
        ("text", POS, EMPTY),
        ("namespace", KW, "default"),
        ("session", KW, None),
        ("speaker", KW, None),
        ("occurred_at", KW, None),
        ("metadata", KW, None),
        ("importance", KW, None),
        ("emotion", KW, None),
        ("idempotency_key", KW, None),
        ("embed", KW, None),
        ("expires_at", KW, None),
    ],
    "add_many": [("items", POS, EMPTY), ("namespace", KW, "default"), ("embed", KW, None)],
    "search": [
        ("query", POS, EMPTY),
        ("namespace", KW, "default"),
        ("limit", KW, 10),
        ("now", KW, None),
        ("neighbours", KW, 0),
        ("include_dormant", KW, False),
        ("reinforce", KW, True),
        ("emotion", KW, None),
        ("mood_congruent", KW, False),
        ("context", KW, None),
        ("as_of", KW, None),
        ("kinds", KW, None),
        ("where", KW, None),
        ("occurred_after", KW, None),
        ("occurred_before", KW, None),
        ("min_relevance", KW, 0.0),
        ("concept", KW, None),
        ("namespaces", KW, None),
        ("namespace_prefix", KW, None),
    ],
    "list": [
        ("namespace", KW, "default"),
        ("where", KW, None),
        ("occurred_after", KW, None),
        ("occurred_before", KW, None),
        ("kinds", KW, None),
        ("order", KW, "occurred_at"),
        ("descending", KW, False),
        ("limit", KW, 100),
        ("cursor", KW, None),
    ],
    "consolidate": [("namespace", KW, "default"), ("now", KW, None), ("progress", KW, None)],
    "facts": [
        ("namespace", KW, "default"),
        ("subject", KW, None),
        ("attribute", KW, None),
        ("as_of", KW, None),
    ],
    "feedback": [
        ("hit", POS, EMPTY),
        ("reward", POS, EMPTY),
        ("namespace", KW, "default"),
        ("search_id", KW, None),
        ("now", KW, None),
    ],
    "weights": [("namespace", KW, "default")],
    "reset_weights": [("namespace", KW, "default")],
    # the pinned profile (docs/profile.md)
    "pin": [
        ("key", POS, EMPTY),
        ("text", POS, EMPTY),
        ("namespace", KW, "default"),
        ("source_id", KW, None),
    ],
    "unpin": [("key", POS, EMPTY), ("namespace", KW, "default")],
    "profile": [("namespace", KW, "default"), ("as_of", KW, None), ("history", KW, False)],
    "profile_proposals": [("namespace", KW, "default")],
    "get": [("id", POS, EMPTY), ("namespace", KW, "default")],
    "update": [
        ("id", POS, EMPTY),
        ("namespace", KW, "default"),
        ("text", KW, None),
        ("speaker", KW, None),
        ("occurred_at", KW, None),
        ("metadata", KW, None),
        ("now", KW, None),
    ],
    "working": [
        ("namespace", KW, "default"),
        ("session", KW, EMPTY),
        ("max_turns", KW, 20),
        ("max_tokens", KW, None),
    ],
    "context": [
        ("query", POS, EMPTY),
        ("namespace", KW, "default"),
        ("session", KW, None),
        ("budget_tokens", KW, 1000),
        ("now", KW, None),
        ("where", KW, None),
        ("occurred_after", KW, None),
        ("occurred_before", KW, None),
        ("min_relevance", KW, 0.0),
    ],
    "mood": [
        ("namespace", KW, "default"),
        ("window", KW, timedelta(days=7)),
        ("now", KW, None),
    ],
    # memory dynamics (docs/dynamics.md)
    "flush": [],
    "set_budget": [
        ("namespace", KW, "default"),
        ("max_memories", KW, None),
        ("max_bytes", KW, None),
    ],
    "fade": [("namespace", KW, "default"), ("now", KW, None)],
    "retention": [("id", POS, EMPTY), ("namespace", KW, "default"), ("now", KW, None)],
    "curve": [
        ("id", POS, EMPTY),
        ("namespace", KW, "default"),
        ("days", KW, 365.0),
        ("points", KW, 200),
    ],
    "delete": [("id", POS, EMPTY), ("namespace", KW, "default")],
    "delete_where": [
        ("namespace", KW, "default"),
        ("where", KW, None),
        ("kinds", KW, None),
        ("occurred_after", KW, None),
        ("occurred_before", KW, None),
        ("dry_run", KW, False),
    ],
    "history": [("id", POS, EMPTY), ("namespace", KW, "default")],
    "forget_namespace": [("namespace", POS, EMPTY)],
    # learning (docs/learning.md)
    "record_experience": [
        ("situation", POS, EMPTY),
        ("action", POS, EMPTY),
        ("outcome", POS, EMPTY),
        ("reward", POS, EMPTY),
        ("namespace", KW, "default"),
        ("occurred_at", KW, None),
    ],
    "recall_experiences": [
        ("situation", POS, EMPTY),
        ("namespace", KW, "default"),
        ("limit", KW, 5),
        ("now", KW, None),
        ("reinforce", KW, True),
    ],
    "teach": [("concept", POS, EMPTY), ("examples", POS, EMPTY), ("namespace", KW, "default")],
    "concepts": [("namespace", KW, "default")],
    "retag": [("namespace", KW, "default")],
    "close": [],
    "__enter__": [],
    "__exit__": [("exc_type", POS, EMPTY), ("exc", POS, EMPTY), ("tb", POS, EMPTY)],
}

# error -> the builtin (or engramdb) classes it must also be
ERROR_BASES: dict[str, tuple[type[BaseException], ...]] = {
    "InvalidInputError": (ValueError,),
    "LimitExceededError": (engramdb.InvalidInputError, ValueError),
    "ConflictError": (engramdb.InvalidInputError, ValueError),
    "NotFoundError": (KeyError,),
    "StoreError": (RuntimeError,),
    "SchemaError": (engramdb.StoreError, RuntimeError),
    "IntegrityError": (engramdb.StoreError, RuntimeError),
    "DecryptionError": (engramdb.StoreError, RuntimeError),
    "EmbeddingError": (RuntimeError,),
    "ModelIntegrityError": (engramdb.EmbeddingError, RuntimeError),
    "AccessDeniedError": (PermissionError,),
    "RateLimitedError": (RuntimeError,),
    "MissingExtraError": (ImportError,),
}


def test_all_is_sorted_and_exact() -> None:
    assert engramdb.__all__ == EXPORTED
    assert sorted(engramdb.__all__) == engramdb.__all__


def test_every_exported_name_exists_and_is_defined_in_engramdb() -> None:
    for name in engramdb.__all__:
        value = getattr(engramdb, name)
        module = getattr(value, "__module__", "engramdb")
        assert module.startswith("engramdb"), f"{name} comes from {module}"


@pytest.mark.parametrize("method", sorted(CONTRACT))
def test_memory_method_signature_matches_the_contract(method: str) -> None:
    params = list(inspect.signature(getattr(Memory, method)).parameters.values())
    assert params[0].name == "self"
    actual = [(p.name, p.kind, p.default) for p in params[1:]]
    assert actual == CONTRACT[method]


def test_every_exported_error_is_an_engram_error_and_its_builtin() -> None:
    errors = [
        name
        for name in engramdb.__all__
        if isinstance(getattr(engramdb, name), type)
        and issubclass(getattr(engramdb, name), BaseException)
    ]
    assert sorted(errors) == sorted([*ERROR_BASES, "EngramError"])
    assert issubclass(engramdb.EngramError, Exception)
    for name, bases in ERROR_BASES.items():
        error = getattr(engramdb, name)
        assert issubclass(error, engramdb.EngramError), name
        for base in bases:
            assert issubclass(error, base), f"{name} is not a {base.__name__}"


def test_no_exported_error_shadows_a_builtin() -> None:
    import builtins

    for name in engramdb.__all__:
        assert not hasattr(builtins, name), f"{name} shadows a builtin"


def test_not_found_error_prints_its_message_not_a_repr() -> None:
    assert str(engramdb.NotFoundError("no memory 'x'")) == "no memory 'x'"
