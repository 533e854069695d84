"""API keys: tokens shown once and stored hashed, scopes, revocation, the rate limiter."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from engramdb import InvalidInputError, NotFoundError
from engramdb.security.keys import KeyRing, keys_path
from engramdb.server.ratelimit import RateLimiter


def test_a_token_verifies_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    with KeyRing(path) as ring:
        new = ring.create(name="app", namespaces=["user-42"], access="write")
        assert new.token.startswith(f"eng_{new.key.id}_")
        assert ring.verify(new.token) == new.key
    secret = new.token.rsplit("_", 1)[1]
    raw = path.read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name != "keys.db"
    )
    assert secret.encode() not in raw
    rows = sqlite3.connect(path).execute("SELECT * FROM api_keys").fetchall()
    assert all(secret not in str(row) for row in rows)


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    KeyRing(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize(
    "token",
    [
        "",
        "eng_",
        "Bearer x",
        "eng_0123456789ab_" + "0" * 48,  # well formed, unknown id
        "eng_zz_yy",
    ],
)
def test_malformed_or_unknown_tokens_do_not_verify(token: str) -> None:
    with KeyRing(":memory:") as ring:
        ring.create(name="app", namespaces=["a"], access="read")
        assert ring.verify(token) is None


def test_a_wrong_secret_for_a_real_id_does_not_verify() -> None:
    with KeyRing(":memory:") as ring:
        new = ring.create(name="app", namespaces=["a"], access="read")
        forged = f"eng_{new.key.id}_" + "0" * 48
        assert ring.verify(forged) is None


def test_a_revoked_key_stops_verifying_and_stays_listed() -> None:
    with KeyRing(":memory:") as ring:
        new = ring.create(name="app", namespaces=["a"], access="read")
        revoked = ring.revoke(new.key.id)
        assert revoked.revoked_at is not None
        assert ring.verify(new.token) is None
        assert [k.id for k in ring.list()] == [new.key.id]
        assert not ring.has_live_keys()
        with pytest.raises(NotFoundError):
            ring.revoke("000000000000")


def test_scopes_exact_prefix_and_access_levels() -> None:
    with KeyRing(":memory:") as ring:
        reader = ring.create(name="r", namespaces=["user-42"], access="read").key
        team = ring.create(name="t", namespaces=["team-*"], access="write").key
        admin = ring.create(name="a", namespaces=[], access="admin").key
    assert reader.allows("user-42", "read")
    assert not reader.allows("user-42", "write")
    assert not reader.allows("user-420", "read")  # exact means exact
    assert team.allows("team-a", "write")
    assert team.allows("team-a", "read")
    assert not team.allows("teams", "read")
    assert admin.allows("anything", "write")
    assert admin.is_admin
    assert reader.home == "user-42"
    assert team.home is None


@pytest.mark.parametrize("pattern", ["", "a b", "*x", "team-**", "-x", "a/b", "x" * 200])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with KeyRing(":memory:") as ring, pytest.raises(InvalidInputError):
        ring.create(name="x", namespaces=[pattern], access="read")


def test_a_scoped_key_needs_a_namespace() -> None:
    with KeyRing(":memory:") as ring, pytest.raises(InvalidInputError, match="namespace"):
        ring.create(name="x", namespaces=[], access="write")


def test_keys_live_beside_the_store(tmp_path: Path) -> None:
    assert keys_path(str(tmp_path / "data")) == str(tmp_path / "data" / "keys.db")
    assert keys_path(str(tmp_path / "mem.db")) == str(tmp_path / "mem.keys.db")
    assert keys_path(":memory:") == ":memory:"


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("k")
    assert wait == pytest.approx(0.5)
    assert limiter.acquire("other") == 0.0  # buckets are per key
    now[0] += 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") > 0


def test_a_zero_rate_turns_limiting_off() -> None:
    limiter = RateLimiter(0.0, 0)
    assert not limiter.enabled
    assert all(limiter.acquire("k") == 0.0 for _ in range(1000))
