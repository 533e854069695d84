"""``Memory("postgresql://...")`` opens a PostgresStore and its verbs work there
(docs/postgres.md): the real packaged embedding model, a real PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import psycopg
import pytest
from psycopg import sql

from engramdb import Memory
from engramdb.embed import Embedder
from engramdb.errors import InvalidInputError, NotFoundError, SchemaError, StoreError
from engramdb.store import open_store
from engramdb.store.postgres import PostgresStore

from .conftest import located

T0 = datetime(2024, 3, 23, 9, 0, tzinfo=timezone.utc)


def test_memory_opens_a_postgresql_url_and_recalls(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    with Memory(located(postgres_url, schema), embedder=embedder) as mem:
        dog = mem.add(
            "I adopted a rescue dog called Pastel.", namespace="u", speaker="Maya",
            session="s1", occurred_at=T0,
        )  # fmt: skip
        mem.add("The weather in Lisbon was sunny all week.", namespace="u", session="s1")
        mem.add("I adopted a rescue dog called Pastel.", namespace="other", session="s1")
        hits = mem.search("What is Maya's dog called?", namespace="u")
        assert hits[0].engram.id == dog.id
        assert {h.engram.namespace for h in hits} == {"u"}
        changed = mem.update(dog.id, text="My dog Pastel is a greyhound.", namespace="u")
        assert [v.version for v in mem.history(dog.id, namespace="u")] == [1, 2]
        assert mem.get(dog.id, namespace="u").text == changed.text
        mem.add("I live in Boston.", namespace="u", speaker="Maya", session="s2", occurred_at=T0)
        mem.add("I moved to Denver.", namespace="u", speaker="Maya", session="s2")
        report = mem.consolidate(namespace="u")
        assert report.episodes == 4
        assert mem.consolidate(namespace="u").episodes == 0  # nothing new: nothing read
        assert [f.value for f in mem.facts(namespace="u", attribute="residence")] == [
            "Boston",
            "Denver",
        ]
        bundle = mem.context("Where does Maya live?", namespace="u", session="s2")
        assert "Denver" in bundle.render()
        mem.delete(dog.id, namespace="u")
        with pytest.raises(NotFoundError):
            mem.get(dog.id, namespace="u")
    with psycopg.connect(postgres_url) as conn:  # the store is in the schema the URL named
        found = conn.execute(
            sql.SQL("SELECT DISTINCT namespace FROM {}.engrams").format(sql.Identifier(schema))
        ).fetchall()
    assert sorted(found) == [("other",), ("u",)]


def test_a_read_only_open_creates_nothing_and_refuses_writes(
    postgres_url: str, schema: str
) -> None:
    with pytest.raises(NotFoundError):
        open_store(located(postgres_url, schema), read_only=True)
    with psycopg.connect(postgres_url) as conn:
        made = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    assert made == (0,)
    open_store(located(postgres_url, schema)).close()  # now there is one
    store = open_store(located(postgres_url, schema), read_only=True)
    try:
        assert store.namespaces() == []
        with pytest.raises(StoreError, match="the store is read-only"):
            store.set_budget("u", 1, None)
    finally:
        store.close()


def test_a_store_refuses_another_vector_size(postgres_url: str, schema: str) -> None:
    PostgresStore(postgres_url, schema=schema, dims=384).close()
    with pytest.raises(SchemaError, match="384"):
        PostgresStore(postgres_url, schema=schema, dims=512)


def test_a_postgresql_location_is_checked_before_anything_opens(postgres_url: str) -> None:
    with pytest.raises(InvalidInputError, match="schema"):
        open_store(f"{postgres_url}?schema=")


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot connect") as caught:
        PostgresStore("postgresql://someone:s3cret-word@127.0.0.1:1/nowhere")
    assert "s3cret-word" not in str(caught.value)


def test_a_process_killed_before_the_vectors_leaves_them_pending(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    # docs/write-path.md: the store's pending set is the queue. A real process writes
    # without vectors and is killed (SIGKILL) before embedding any; the next process to
    # open the store for writing finds them pending and embeds them.
    at = located(postgres_url, schema)
    code = textwrap.dedent(f"""
        import os, signal
        from engramdb import Memory, Settings
        settings = Settings(path={at!r}, background_embedder=False)
        mem = Memory(settings=settings)
        mem.add_many(
            [{{"text": "I adopted a rescue dog called Pastel."}},
             {{"text": "The weather in Lisbon was sunny all week."}}],
            namespace="u", embed="later",
        )
        print("written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "written"
    with Memory(at, read_only=True) as reader:
        assert reader.stats(namespace="u").pending_vectors == 2
        assert reader.check() == [], "a pending memory is not damage"
    with Memory(at, embedder=embedder) as mem:
        mem.flush()
        assert mem.stats(namespace="u").pending_vectors == 0
        assert mem._catchup.embedded == 2
        hits = mem.search("What pet did I get?", namespace="u", reinforce=False)
        assert hits[0].engram.text == "I adopted a rescue dog called Pastel."
        assert not hits[0].explain.without_vector
