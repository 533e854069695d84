"""An open store keeps the vector index and catalog of a bounded number of namespaces,
and an encrypted one their unwrapped data keys and the values they opened
(docs/limits.md, "Caches"); an evicted namespace is loaded again and reads back
as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from engramdb.config import EncryptionKey
from engramdb.security import datakeys
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite import SqliteStore, cache
from engramdb.testing.conformance import EMBEDDER, make_record

TEXTS = {"ns-a": "violin lessons", "ns-b": "sourdough starter", "ns-c": "marathon training"}


def test_indexes_of_more_namespaces_than_the_bound_are_evicted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cache, "LOADED_NAMESPACES", 2)
    store = SqliteStore(tmp_path / "store.db")
    try:
        written = {ns: store.insert([make_record(ns, text)])[0] for ns, text in TEXTS.items()}
        for _ in range(2):  # the second round reads namespaces evicted by the first
            for namespace, engram in written.items():
                found = store.vector_search(namespace, EMBEDDER.embed([TEXTS[namespace]])[0], 3)
                assert [c.id for c in found] == [engram.id]
                assert list(store.catalog(namespace).ids) == [engram.id]
                assert len(store._vectors) <= 2  # private: the bound is what is tested
        assert store.check() == []
    finally:
        store.close()


def test_data_keys_of_more_namespaces_than_the_bound_are_evicted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(datakeys, "CACHED_CIPHERS", 2)
    store = SqliteStore(":memory:", encryption=EncryptionKey.from_text(generate_key()))
    try:
        written = {
            namespace: store.insert([make_record(namespace, f"a secret of {namespace}")])[0]
            for namespace in ("ns-a", "ns-b", "ns-c")
        }
        for _ in range(2):  # the second round reads namespaces evicted by the first
            for namespace, engram in written.items():
                found = store.get(namespace, engram.id)
                assert found is not None
                assert found.text == f"a secret of {namespace}"
                assert store.catalog(namespace).documents[0] == found.text
                assert len(store._keys._ciphers) <= 2  # private: the bound is what is tested
    finally:
        store.close()


def test_the_default_bounds_are_documented() -> None:
    limits = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text("utf-8")
    assert f"{datakeys.CACHED_CIPHERS} namespaces" in limits
    assert f"{cache.LOADED_NAMESPACES} namespaces" in limits
