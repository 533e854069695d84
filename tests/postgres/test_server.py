"""The server the PostgreSQL tests run against is the one the docs promise."""

from __future__ import annotations

import psycopg
import pytest


def test_server_has_pgvector_with_hnsw_and_halfvec(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        (version,) = conn.execute("SHOW server_version_num").fetchone() or ("0",)
        assert int(version) >= 150000
        (distance,) = conn.execute(
            "SELECT '[1,0,0]'::halfvec(3) <=> '[0,1,0]'::halfvec(3)"
        ).fetchone() or (None,)
        assert distance == pytest.approx(1.0)
        (hnsw,) = conn.execute("SELECT count(*) FROM pg_am WHERE amname = 'hnsw'").fetchone() or (
            0,
        )
        assert hnsw == 1
