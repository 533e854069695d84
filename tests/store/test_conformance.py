"""Run the shared store conformance suite against every way SqliteStore opens."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from engramdb.config import EncryptionKey
from engramdb.recall.lexical import stored_analysis
from engramdb.security.crypto import generate_key
from engramdb.store.base import Store
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import ALL_CHECKS, StoreFactory


@pytest.fixture(params=["memory", "file", "encrypted-memory", "encrypted-file", "analysed-file"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Each way SqliteStore opens; the encrypted ones seal everything, vectors included
    (docs/security.md): the same behaviour must come out of ciphertext and a blind index.
    The analysed one keeps recall's analysis of each memory, as ``Memory`` opens it
    (docs/recall.md, "What a search reads")."""
    counter = itertools.count()
    key = EncryptionKey.from_text(generate_key()) if "encrypted" in request.param else None
    analyser = stored_analysis if "analysed" in request.param else None

    def make(*, ann_threshold: int = 20_000) -> Store:
        file = tmp_path / f"s{next(counter)}.db"
        where = ":memory:" if request.param.endswith("memory") else file
        return SqliteStore(where, ann_threshold=ann_threshold, encryption=key, analyser=analyser)

    return make


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_sqlite_store_conforms(
    check: Callable[[StoreFactory], None], factory: StoreFactory
) -> None:
    check(factory)
