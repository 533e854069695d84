"""engram add --expires-at / --ttl, engram expire, engram ttl and engram purge
(docs/expiry.md): what they store, print and audit, and their refusals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb import Memory
from engramdb.clock import FixedClock
from engramdb.embed.base import Embedder
from engramdb.security.audit import SqliteAuditLog, audit_path

from .support import Invoke, assert_one_line_error, ok_json

PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)


def test_add_takes_an_expiry_or_a_ttl(invoke: Invoke) -> None:
    at = ok_json(invoke("--json", "add", "a note", "--expires-at", "2999-01-01T00:00:00Z"))
    assert at["expires_at"] == "2999-01-01T00:00:00Z"
    before = datetime.now(timezone.utc)
    spanned = ok_json(invoke("--json", "add", "another", "--ttl", "2d"))
    expires = datetime.fromisoformat(spanned["expires_at"])
    assert before + timedelta(days=2) <= expires <= datetime.now(timezone.utc) + timedelta(days=2)
    assert ok_json(invoke("--json", "add", "plain"))["expires_at"] is None
    both = invoke("add", "x", "--ttl", "1d", "--expires-at", "2999-01-01T00:00:00Z")
    assert "not both" in assert_one_line_error(both, 2)
    assert "duration" in assert_one_line_error(invoke("add", "x", "--ttl", "soon"), 2)
    past = invoke("add", "x", "--expires-at", "2001-01-01T00:00:00Z")
    assert "expires_at" in assert_one_line_error(past, 2)


def test_ttl_shows_stores_and_clears_the_default(invoke: Invoke) -> None:
    invoke("add", "make the store")
    assert invoke("ttl", "u").stdout.strip() == "u: no default TTL"
    stored = ok_json(invoke("--json", "ttl", "u", "--set", "36h"))
    assert stored == {"namespace": "u", "ttl_s": 129_600.0}
    added = ok_json(invoke("--json", "add", "kept 36 hours", "-n", "u"))
    assert added["expires_at"] is not None
    assert ok_json(invoke("--json", "ttl", "u", "--clear")) == {"namespace": "u", "ttl_s": None}
    assert "--clear" in assert_one_line_error(invoke("ttl", "u", "--set", "1d", "--clear"), 2)
    assert "ttl" in assert_one_line_error(invoke("ttl", "u", "--set", "0"), 2)


def test_expire_sets_moves_and_clears(invoke: Invoke) -> None:
    engram = ok_json(invoke("--json", "add", "a note"))
    moved = ok_json(invoke("--json", "expire", engram["id"], "--in", "7d"))
    assert moved["expires_at"] is not None
    assert moved["version"] == 1
    shown = invoke("expire", engram["id"], "--at", "2999-01-01T00:00:00Z")
    assert shown.stdout.strip() == f"{engram['id']}: expires 2999-01-01T00:00:00Z"
    assert ok_json(invoke("--json", "expire", engram["id"], "--never"))["expires_at"] is None
    assert "one of" in assert_one_line_error(invoke("expire", engram["id"]), 2)
    missing = invoke("expire", "0" * 32, "--never")
    assert missing.exit_code == 3, missing.output


def test_purge_erases_what_expired_and_is_audited(
    tmp_path: Path, invoke: Invoke, embedder: Embedder
) -> None:
    store = tmp_path / "store"
    # written by a clock in the past: by the real clock they have expired
    with Memory(str(store), embedder=embedder, clock=FixedClock(PAST)) as mem:
        doomed = mem.add("an old token", namespace="a", expires_at=PAST + timedelta(days=1))
        mem.add("another old one", namespace="b", expires_at=PAST + timedelta(days=1))
        kept = mem.add("kept", namespace="a")
    done = invoke("purge", "-n", "a")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "purged 1 memory (1 expired, 0 derived) in 'a'"
    everywhere = ok_json(invoke("--json", "purge"))
    assert [d["namespace"] for d in everywhere["deletions"]] == ["b"]
    assert invoke("purge").stdout.strip() == "nothing had expired"
    with Memory(str(store), embedder=embedder) as mem:
        assert mem.store.get("a", doomed.id) is None
        assert mem.get(kept.id, namespace="a").text == "kept"
        assert mem.check() == []
    where = audit_path(str(store))
    assert where is not None
    log = SqliteAuditLog(where)
    purges = [(e.action, e.namespace, e.count) for e in log.entries() if e.action == "purge"]
    log.close()
    assert sorted(purges) == [("purge", "a", 1), ("purge", "b", 1)]
