"""Erasing the evidence of a change gives back what held before it
(docs/consolidation.md, "Provenance and erasure").

When the episode that said a new value is erased (``delete``, ``delete_where``, a
purge of expired memories), its fact goes with it, and the fact it had superseded
takes over its end: current again when nothing followed (the only evidence of the
change is gone), superseded by what superseded the erased one otherwise. A situation
that went stale with the change is current again with its sources. No fact is left
closed by, or pointing to, a fact that no longer exists, and ``check()`` says so when
one is; on both stores, plaintext and encrypted, in the erasure's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import EncryptionKey, Fact, Memory, Settings
from engramdb.clock import FixedClock
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
ADDED = datetime(2024, 1, 1, tzinfo=timezone.utc)
EXPIRES = datetime(2024, 3, 1, tzinfo=timezone.utc)
LATER = datetime(2024, 6, 1, tzinfo=timezone.utc)
NS = "u"

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ENCRYPTION = pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, place: Callable[[str], str]) -> str:
    return place(request.param)


@pytest.fixture
def opened(store: str) -> Iterator[Callable[[bool], Memory]]:
    made: list[Memory] = []
    secret = EncryptionKey.from_text(generate_key())  # the same for each open of the test

    def open_(encrypted: bool) -> Memory:
        key = secret if encrypted else None
        settings = Settings(consolidation_batch=4, encryption=key)
        mem = Memory(store, embedder=HashEmbedder(), settings=settings, clock=FixedClock(ADDED))
        made.append(mem)
        return mem

    yield open_
    for mem in made:
        mem.close()


def _said(mem: Memory, turns: list[tuple[int, str]], erased: int) -> list[str]:
    """Maya's turns (day, text), the ``erased``-th one marked and expiring; their ids."""
    items: list[dict[str, Any]] = [
        {
            "text": text,
            "speaker": "Maya",
            "session": f"s{d}",
            "occurred_at": day(d),
            "metadata": {"erase": i == erased},
            **({"expires_at": EXPIRES} if i == erased else {}),
        }
        for i, (d, text) in enumerate(turns)
    ]
    ids = [e.id for e in mem.add_many(items, namespace=NS)]
    mem.consolidate(namespace=NS, now=ADDED)
    return ids


def _erase(mem: Memory, how: str, engram_id: str) -> None:
    if how == "delete":
        mem.delete(engram_id, namespace=NS)
    elif how == "delete_where":
        assert mem.delete_where(namespace=NS, where={"metadata.erase": True}).ids == (engram_id,)
    else:
        mem._clock.set(LATER)  # type: ignore[attr-defined]
        [purged] = mem.purge(namespace=NS)
        assert purged.ids == (engram_id,)


def _facts(mem: Memory, attribute: str) -> list[Fact]:
    return mem.facts(namespace=NS, subject="Maya", attribute=attribute)


def _is_current(fact: Fact) -> None:
    assert (fact.status, fact.valid_to, fact.superseded_by, fact.invalidated_at) == (
        "current",
        None,
        None,
        None,
    )


@ENCRYPTION
@pytest.mark.parametrize("how", ["delete", "delete_where", "purge"])
def test_erasing_the_new_value_makes_the_old_one_current_again(
    opened: Callable[[bool], Memory], encrypted: bool, how: str
) -> None:
    mem = opened(encrypted)
    ids = _said(mem, [(0, "I live in Boston."), (100, "I just moved to Denver!")], erased=1)
    boston, denver = _facts(mem, "residence")
    assert (boston.value, boston.status, boston.superseded_by) == (
        "Boston",
        "superseded",
        denver.engram_id,
    )
    _erase(mem, how, ids[1])
    [fact] = _facts(mem, "residence")
    assert (fact.engram_id, fact.value, fact.valid_from) == (boston.engram_id, "Boston", day(0))
    _is_current(fact)
    assert mem.check() == []
    mem.consolidate(namespace=NS, now=LATER)  # nothing says otherwise: it stays current
    _is_current(_facts(mem, "residence")[0])


@ENCRYPTION
def test_a_situation_gone_stale_with_the_erased_change_is_current_again(
    opened: Callable[[bool], Memory], encrypted: bool
) -> None:
    mem = opened(encrypted)
    turns = [(0, "I work at Google."), (1, "I live in Boston."), (100, "I work at Stripe.")]
    ids = _said(mem, turns, erased=2)
    situations = _facts(mem, "situation")
    assert [f.status for f in situations] == ["stale", "current"]
    mem.delete(ids[2], namespace=NS)
    [employer] = _facts(mem, "employer")
    assert employer.value == "Google"
    _is_current(employer)
    [situation] = _facts(mem, "situation")
    assert situation.engram_id == situations[0].engram_id
    assert situation.value == "works at Google and lives in Boston"
    _is_current(situation)
    _is_current(_facts(mem, "residence")[0])
    assert mem.check() == []


@ENCRYPTION
def test_erasing_a_middle_value_joins_its_neighbours(
    opened: Callable[[bool], Memory], encrypted: bool
) -> None:
    mem = opened(encrypted)
    turns = [(0, "I live in Boston."), (100, "I moved to Denver."), (200, "I moved to Seattle.")]
    ids = _said(mem, turns, erased=1)
    _, denver, seattle = _facts(mem, "residence")
    mem.delete(ids[1], namespace=NS)
    after = _facts(mem, "residence")
    assert [f.value for f in after] == ["Boston", "Seattle"]
    assert (after[0].status, after[0].valid_to, after[0].superseded_by) == (
        "superseded",
        day(200),
        seattle.engram_id,
    )
    assert after[0].invalidated_at == denver.invalidated_at
    assert after[1] == seattle
    assert mem.check() == []


@ENCRYPTION
def test_a_change_said_again_elsewhere_closes_the_old_value_again(
    opened: Callable[[bool], Memory], encrypted: bool
) -> None:
    mem = opened(encrypted)
    turns = [(0, "I live in Boston."), (100, "I moved to Denver."), (102, "I moved to Denver.")]
    ids = _said(mem, turns, erased=1)
    mem.delete(ids[1], namespace=NS)  # the Denver fact goes; the other episode is pending
    _is_current(_facts(mem, "residence")[0])
    assert mem.check() == []
    mem.consolidate(namespace=NS, now=LATER)
    boston, denver = _facts(mem, "residence")
    assert (boston.status, boston.valid_to, boston.superseded_by) == (
        "superseded",
        day(102),
        denver.engram_id,
    )
    assert denver.sources == (ids[2],)
    _is_current(denver)
    assert mem.check() == []


@ENCRYPTION
def test_a_derived_value_back_from_staleness_ends_where_its_timeline_goes_on(
    opened: Callable[[bool], Memory], encrypted: bool
) -> None:
    mem = opened(encrypted)
    items: list[dict[str, Any]] = [
        {"text": text, "speaker": who, "session": f"s{d}", "occurred_at": day(d)}
        for d, who, text in [
            (0, "Maya", "My partner is Alex."),
            (100, "Maya", "My partner is Sam."),
            (150, "Alex", "My partner is Jo."),
        ]
    ]
    ids = [e.id for e in mem.add_many(items, namespace=NS)]
    mem.consolidate(namespace=NS, now=ADDED)
    alex = {f.value: f for f in mem.facts(namespace=NS, subject="Alex", attribute="partner")}
    assert (alex["Maya"].status, alex["Jo"].status) == ("stale", "current")
    mem.delete(ids[1], namespace=NS)
    [maya] = _facts(mem, "partner")
    assert maya.value == "Alex"
    _is_current(maya)
    after = {f.value: f for f in mem.facts(namespace=NS, subject="Alex", attribute="partner")}
    # Alex's partner was Maya again from day 0, until Alex said otherwise on day 150
    assert (after["Maya"].status, after["Maya"].valid_to, after["Maya"].superseded_by) == (
        "superseded",
        day(150),
        alex["Jo"].engram_id,
    )
    assert after["Jo"] == alex["Jo"]
    assert mem.check() == []


def _execute(location: str, statement: str, *params: object) -> int:
    """Run ``statement`` on the store's database as another tool would; rows changed."""
    if location.startswith("postgresql"):
        import psycopg

        url, _, schema = location.rpartition("schema=")
        with psycopg.connect(url.rstrip("?&"), autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            return conn.execute(statement, params).rowcount
    with sqlite3.connect(Path(location) / "engram.db") as conn:
        changed = conn.execute(statement.replace("%s", "?"), params).rowcount
    conn.close()
    return changed


def _pointing_nowhere(location: str) -> None:
    """Point the superseded fact at a fact that does not exist, as another tool could."""
    statement = "UPDATE facts SET superseded_by = %s WHERE superseded_by IS NOT NULL"
    assert _execute(location, statement, "0" * 32) == 1


def test_check_names_a_fact_superseded_by_a_fact_that_does_not_exist(
    opened: Callable[[bool], Memory], store: str
) -> None:
    mem = opened(False)
    _said(mem, [(0, "I live in Boston."), (100, "I just moved to Denver!")], erased=1)
    assert mem.check() == []
    _pointing_nowhere(store)
    problems = mem.check()
    assert any("superseded by a fact that does not exist" in p for p in problems), problems


@ENCRYPTION
def test_facts_an_older_erasure_left_dangling_are_reopened_once_at_the_first_open(
    opened: Callable[[bool], Memory], store: str, encrypted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engramdb.store.postgres import validity as on_postgres
    from engramdb.store.sqlite import validity as on_sqlite

    mem = opened(encrypted)
    ids = _said(mem, [(0, "I live in Boston."), (100, "I just moved to Denver!")], erased=1)
    with monkeypatch.context() as before:  # an erasure as it was before the rule
        before.setattr(on_sqlite, "after_erasure", lambda *_: 0)
        before.setattr(on_postgres, "after_erasure", lambda *_: [])
        mem.delete(ids[1], namespace=NS)
    [boston] = _facts(mem, "residence")
    assert boston.status == "superseded"
    assert any("superseded by a fact that does not exist" in p for p in mem.check())
    mem.close()
    # as the migration leaves a store that holds facts
    assert _execute(store, "INSERT INTO validity_pending (id) VALUES (1)") == 1
    mem = opened(encrypted)
    _is_current(_facts(mem, "residence")[0])
    assert mem.check() == []
    assert _execute(store, "DELETE FROM validity_pending") == 0  # taken
