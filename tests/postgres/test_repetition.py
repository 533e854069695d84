"""Repetition on PostgreSQL (docs/repetition.md) where it differs from SQLite: a store
from before the ``identities`` table finds what it held. The behaviour shared with
SQLite is tested on both stores by tests/test_repetition.py."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg
from psycopg import sql

from engramdb import Memory
from engramdb.testing.fakes import HashEmbedder

from .conftest import located

T0 = datetime(2024, 3, 23, 18, 0, tzinfo=timezone.utc)
SAID = {"speaker": "Maya", "session": "s1", "occurred_at": T0}
TEXT = "I adopted a rescue dog called Pastel."


def test_a_namespace_from_before_identities_finds_what_it_held(
    postgres_url: str, schema: str
) -> None:
    location = located(postgres_url, schema)
    with Memory(location, embedder=HashEmbedder()) as m:
        first = m.add(TEXT, namespace="u", **SAID)
    # as the identities migration leaves a namespace written before it: no digest,
    # the namespace listed as pending
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}.identities").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("INSERT INTO {}.identities_pending (namespace) VALUES ('u')").format(
                sql.Identifier(schema)
            )
        )
    with Memory(location, embedder=HashEmbedder()) as m:
        again = m.add(TEXT, namespace="u", **SAID)
        assert again.repeated
        assert again.id == first.id
        assert m.stats(namespace="u").engrams == 1
    with psycopg.connect(postgres_url) as conn:
        left = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.identities_pending").format(sql.Identifier(schema))
        ).fetchone()
    assert left == (0,)
