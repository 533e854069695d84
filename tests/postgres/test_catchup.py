"""The catch-up of pending vectors split between processes on one PostgreSQL store
(docs/scaling.md, "Pending vectors"): each claims its rounds, two never embed the
same memory at once, and a claim whose process died is taken once its lease ran out.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from engramdb import Memory, Settings
from engramdb.store.base import NO_VECTOR
from engramdb.store.postgres import PostgresStore
from engramdb.testing.conformance import DIMS, make_record

from .conftest import located


def _pending(store: PostgresStore, count: int) -> list[str]:
    records = [
        replace(make_record("ns", f"pending note {i}"), vector=NO_VECTOR) for i in range(count)
    ]
    store.insert(records)
    return [r.id for r in records]


def test_two_stores_claim_disjoint_rounds_until_released(postgres_url: str, schema: str) -> None:
    one = PostgresStore(postgres_url, schema=schema, dims=DIMS)
    other = PostgresStore(postgres_url, schema=schema, dims=DIMS)
    try:
        ids = _pending(one, 10)
        first = [p.engram.id for p in one.claim_vectors(4, 300)]
        assert first == ids[:4], "a claim takes the oldest"
        second = [p.engram.id for p in other.claim_vectors(10, 300)]
        assert second == ids[4:], "the other store's claim skips the claimed rows"
        assert one.claim_vectors(10, 300) == []
        assert len(one.pending_vectors(20)) == 10, "claimed memories are still pending"
        one.release_vectors(first)
        assert [p.engram.id for p in other.claim_vectors(10, 300)] == first
    finally:
        one.close()
        other.close()


def test_a_killed_claimers_round_is_taken_after_its_lease(postgres_url: str, schema: str) -> None:
    store = PostgresStore(postgres_url, schema=schema, dims=DIMS)
    try:
        ids = _pending(store, 6)
        code = textwrap.dedent(f"""
            import os, signal
            from engramdb.store.postgres import PostgresStore
            store = PostgresStore({postgres_url!r}, schema={schema!r}, dims={DIMS})
            print(" ".join(p.engram.id for p in store.claim_vectors(3, 2.0)), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """)
        child = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        assert child.stdout.split() == ids[:3]
        assert [p.engram.id for p in store.claim_vectors(10, 300)] == ids[3:]
        taken: list[str] = []
        deadline = time.monotonic() + 120  # a bound on the wait, not a measurement
        while not taken and time.monotonic() < deadline:
            time.sleep(0.5)
            taken = [p.engram.id for p in store.claim_vectors(10, 300)]
        assert taken == ids[:3], "the dead claimer's round is taken once its lease ran out"
    finally:
        store.close()


def test_two_processes_catching_up_embed_each_memory_once(postgres_url: str, schema: str) -> None:
    # two real processes, each a Memory with the packaged model behind an embedder that
    # records what it embeds, open the store with the same pending set at once
    at = located(postgres_url, schema)
    count = 300
    with Memory(settings=Settings(path=at, background_embedder=False)) as mem:
        mem.add_many(
            [{"text": f"note {i} about topic {i % 17}"} for i in range(count)],
            namespace="u",
            embed="later",
        )
    code = textwrap.dedent(f"""
        import json, sys, time
        from engramdb import Memory, Settings
        from engramdb.embed import make_embedder

        inner = make_embedder(Settings())
        inner.embed(["warm up"])
        seen = []

        class Counting:
            model_id = inner.model_id
            dims = inner.dims

            def embed(self, texts):
                seen.extend(texts)
                return inner.embed(texts)

        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # both at once
        with Memory({at!r}, embedder=Counting()) as mem:
            mem.flush()
            print(json.dumps({{"texts": seen, "embedded": mem._catchup.embedded}}))
    """)
    go = str(time.time() + 20)  # the processes load the model slowly on a busy machine
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, go],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    # the emotion tagger embeds its label descriptions too: only the notes count here
    texts = [t for r in results for t in r["texts"] if t.startswith("note ")]
    assert len(texts) == count, "each pending memory was embedded once"
    assert sorted(texts) == sorted(f"note {i} about topic {i % 17}" for i in range(count))
    assert sum(r["embedded"] for r in results) == count
    with Memory(at, read_only=True) as reader:
        assert reader.stats(namespace="u").pending_vectors == 0
        assert reader.check() == []
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.engrams WHERE embedding IS NULL").format(
                sql.Identifier(schema)
            )
        ).fetchone()
    assert row == (0,), "every memory has its vector"


class _Failing:
    """An embedder whose model fails on every call."""

    model_id = "failing"
    dims = DIMS

    def embed(self, texts: object) -> object:
        raise RuntimeError("the model failed to load")


def test_a_failed_round_ends_its_claim_at_once(postgres_url: str, schema: str) -> None:
    store = PostgresStore(postgres_url, schema=schema, dims=DIMS)
    try:
        ids = _pending(store, 3)
        at = located(postgres_url, schema)
        mem = Memory(at, embedder=_Failing())  # type: ignore[arg-type]
        try:
            with pytest.raises(RuntimeError, match="failed to load"):
                mem.flush()
        finally:
            mem.close()
        # released, not left claimed for a lease: the next claimer takes the round now
        assert [p.engram.id for p in store.claim_vectors(10, 300)] == ids
    finally:
        store.close()
