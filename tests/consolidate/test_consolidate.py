"""Consolidation end to end: idempotent, resumable, supersession, provenance, erasure.

A ``HashEmbedder`` stands in for the model: these tests are about what gets
written, not about ranking (tests/consolidate/test_recall.py uses the model).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engramdb import InvalidInputError, Memory, StoreError
from engramdb.consolidate import engine
from engramdb.store.base import ConsolidationBatch

from .conftest import NOW, day, hash_memory, history


def snapshot(mem: Memory, namespace: str = "u") -> dict[str, Any]:
    """Everything consolidation writes, in a comparable form."""
    derived = [e for e in mem.store.iter_engrams(namespace) if e.kind != "episode"]
    return {
        "facts": [
            (
                f.engram_id,
                f.subject,
                f.attribute,
                f.value,
                f.valid_from,
                f.valid_to,
                f.status,
                f.superseded_by,
                f.sources,
            )
            for f in mem.facts(namespace=namespace)
        ],
        "links": sorted(mem.store.links(namespace), key=lambda k: (k.derived_id, k.source_id)),
        "derived": sorted((e.id, e.kind, e.text, e.version) for e in derived),
        "pending": mem.store.pending_count(namespace),
    }


def test_consolidate_turns_episodes_into_facts_and_summaries(mem: Memory) -> None:
    report = mem.consolidate(namespace="u", now=NOW)
    assert report.episodes == 16
    assert report.pending == 0
    assert report.batches == 4  # consolidation_batch=4: one transaction each
    assert report.facts > 0
    assert report.summaries >= 1
    assert report.duplicates == 1  # "I just moved to Denver!" said twice
    kinds = {e.kind for e in mem.store.iter_engrams("u")}
    assert kinds == {"episode", "fact", "summary"}


def test_running_twice_changes_nothing(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    before = snapshot(mem)
    again = mem.consolidate(namespace="u", now=NOW)
    assert (again.episodes, again.facts, again.batches) == (0, 0, 0)
    assert snapshot(mem) == before


def test_a_run_that_wrote_hands_freed_memory_back(
    mem: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct consolidate trims the heap like the server's schedule does
    (docs/limits.md, "Caches"): once per run that wrote, not per batch."""
    trims: list[None] = []
    monkeypatch.setattr(engine, "release_free_memory", lambda: trims.append(None))
    assert mem.consolidate(namespace="u", now=NOW).batches == 4
    assert len(trims) == 1
    assert mem.consolidate(namespace="u", now=NOW).batches == 0  # nothing pending
    assert len(trims) == 1


def _twins(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of one store holding the same episodes (same ids), not consolidated."""
    first = tmp_path / "a.db"
    with hash_memory(path=str(first)) as mem:
        mem.add_many(history(), namespace="u")
    second = tmp_path / "b.db"
    shutil.copy(first, second)
    return first, second


def test_a_crash_in_the_middle_then_a_rerun_equals_one_clean_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_path, crashed_path = _twins(tmp_path)
    with hash_memory(path=str(clean_path), consolidation_batch=4) as clean:
        clean.consolidate(namespace="u", now=NOW)
        expected = snapshot(clean)
    with hash_memory(path=str(crashed_path), consolidation_batch=4) as crashed:
        store = crashed.store
        real = store.apply_consolidation
        calls = {"n": 0}

        def dies_on_the_third_batch(batch: ConsolidationBatch) -> bool:
            calls["n"] += 1
            if calls["n"] == 3:
                raise StoreError("simulated crash inside a batch")
            return real(batch)

        monkeypatch.setattr(store, "apply_consolidation", dies_on_the_third_batch)
        with pytest.raises(StoreError, match="simulated crash"):
            crashed.consolidate(namespace="u", now=NOW)
        assert store.pending_count("u") == 8  # two batches of four were committed
        monkeypatch.setattr(store, "apply_consolidation", real)
        report = crashed.consolidate(namespace="u", now=NOW)
        assert report.episodes == 8
        assert snapshot(crashed) == expected


def test_a_killed_process_loses_only_its_batch(tmp_path: Path) -> None:
    clean_path, killed_path = _twins(tmp_path)
    script = (
        "import os\n"
        "from datetime import datetime, timezone\n"
        "from engramdb import Memory, Settings\n"
        "from engramdb.testing.fakes import HashEmbedder\n"
        f"m = Memory({str(killed_path)!r}, embedder=HashEmbedder(), "
        "settings=Settings(consolidation_batch=4))\n"
        "def die(done, total):\n"
        "    if done >= 8:\n"
        "        os._exit(9)  # killed after two committed batches\n"
        "m.consolidate(namespace='u', now=datetime(2024, 6, 1, tzinfo=timezone.utc), "
        "progress=die)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert killed.returncode == 9
    with hash_memory(path=str(killed_path), consolidation_batch=4) as mem:
        assert mem.store.pending_count("u") == 8
        mem.consolidate(namespace="u", now=NOW)
        assert mem.check() == []
        resumed = snapshot(mem)
    with hash_memory(path=str(clean_path), consolidation_batch=4) as clean:
        clean.consolidate(namespace="u", now=NOW)
        assert resumed == snapshot(clean)


def test_supersession_closes_the_old_value_at_the_change_and_deletes_nothing(
    mem: Memory,
) -> None:
    mem.consolidate(namespace="u", now=NOW)
    homes = mem.facts(namespace="u", subject="Maya", attribute="residence")
    assert [(f.value, f.status) for f in homes] == [
        ("Boston", "superseded"),
        ("Denver", "superseded"),  # restated at day 102: merged, not a second fact
        ("Seattle", "current"),
    ]
    boston, denver, seattle = homes
    assert boston.valid_to == denver.valid_from == day(100)
    assert denver.valid_to == seattle.valid_from == day(250)
    assert boston.superseded_by == denver.engram_id
    assert len(denver.sources) == 2  # both "I just moved to Denver!" episodes
    assert seattle.valid_to is None
    assert boston.invalidated_at == NOW  # record time of the closing
    # as_of: what was true then
    assert [f.value for f in mem.facts(namespace="u", attribute="residence", as_of=day(50))] == [
        "Boston"
    ]
    assert [f.value for f in mem.facts(namespace="u", attribute="residence", as_of=day(150))] == [
        "Denver"
    ]


def test_every_fact_keeps_a_complete_history(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    by_key: dict[tuple[str, str], list[Any]] = {}
    for fact in mem.facts(namespace="u"):
        by_key.setdefault((fact.subject, fact.attribute), []).append(fact)
        assert mem.history(fact.engram_id, namespace="u")  # a memory with its versions
    for facts in by_key.values():
        extracted = [f for f in facts if f.status != "stale"]
        for older, newer in itertools.pairwise(extracted):
            if older.status == "superseded":
                assert older.valid_to == newer.valid_from  # no gap, no overlap
        assert sum(f.valid_to is None and f.status == "current" for f in facts) <= 1 or all(
            f.attribute.startswith(("did", "plan", "feeling")) for f in facts
        )
    employers = [f.value for f in mem.facts(namespace="u", attribute="employer")]
    assert employers == ["Google", "Stripe"]


def test_no_fact_is_ever_deleted_by_consolidation(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    first = {f.engram_id for f in mem.facts(namespace="u")}
    mem.add("I moved to Tokyo.", namespace="u", speaker="Maya", session="s5", occurred_at=day(300))
    mem.add(
        "Now I work at Sony.", namespace="u", speaker="Maya", session="s5", occurred_at=day(300)
    )
    mem.consolidate(namespace="u", now=NOW)
    assert first < {f.engram_id for f in mem.facts(namespace="u")}


def test_facts_derived_from_a_superseded_fact_go_stale(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    alex = mem.facts(namespace="u", subject="Alex", attribute="partner")
    assert [(f.value, f.status, f.valid_to) for f in alex] == [("Maya", "stale", day(200))]
    (maya_alex,) = [
        f
        for f in mem.facts(namespace="u", subject="Maya", attribute="partner")
        if f.value == "Alex"
    ]
    assert alex[0].sources == (maya_alex.engram_id,)  # derived from a fact, not an episode
    situations = mem.facts(namespace="u", subject="Maya", attribute="situation")
    assert [f.status for f in situations][-1] == "current"
    assert all(f.status == "stale" for f in situations[:-1])


def test_provenance_of_every_derived_memory_points_at_existing_episodes(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    engrams = {e.id: e for e in mem.store.iter_engrams("u")}
    sources: dict[str, set[str]] = {}
    for link in mem.store.links("u"):
        assert link.source_id in engrams
        assert link.derived_id in engrams
        sources.setdefault(link.derived_id, set()).add(link.source_id)

    def roots(engram_id: str) -> set[str]:
        if engrams[engram_id].kind == "episode":
            return {engram_id}
        return set().union(*(roots(s) for s in sources[engram_id]))

    for engram in engrams.values():
        if engram.kind != "episode":
            assert sources.get(engram.id), f"{engram.kind} {engram.text!r} has no provenance"
            assert all(engrams[r].kind == "episode" for r in roots(engram.id))


def test_deleting_an_episode_removes_every_fact_derived_from_it(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    (google,) = mem.facts(namespace="u", attribute="employer", subject="Maya")[:1]
    (episode_id,) = google.sources
    mem.delete(episode_id, namespace="u")
    assert google.engram_id not in {f.engram_id for f in mem.facts(namespace="u")}
    (denver,) = [f for f in mem.facts(namespace="u", attribute="residence") if f.value == "Denver"]
    gone, other = denver.sources
    # one of two sources: the fact goes too (it may hold the erased words), and
    # its other source waits for the next consolidation, which derives it again
    mem.delete(gone, namespace="u")
    residences = mem.facts(namespace="u", attribute="residence")
    assert "Denver" not in [f.value for f in residences]
    assert other in {e.id for e in mem.store.pending_episodes("u", 100)}
    mem.consolidate(namespace="u", now=NOW)
    (again,) = [f for f in mem.facts(namespace="u", attribute="residence") if f.value == "Denver"]
    assert again.sources == (other,)
    assert mem.store.pending_count("u") == 0
    assert mem.check() == []


def test_consolidating_again_what_a_delete_left_pending_changes_no_fact(mem: Memory) -> None:
    # A turn no fact came from: its session's summary goes, the session's other
    # turns are consolidated again, and each statement finds the fact it backs.
    mem.consolidate(namespace="u", now=NOW)
    before = snapshot(mem)
    (chat,) = [e for e in mem.store.iter_engrams("u") if e.text == "Wow, how is it?"]
    mem.delete(chat.id, namespace="u")
    assert mem.store.pending_count("u") == 5  # the other turns of its session
    assert snapshot(mem)["facts"] == before["facts"]
    report = mem.consolidate(namespace="u", now=NOW)
    assert (report.facts, report.superseded, report.stale) == (0, 0, 0)
    after = snapshot(mem)
    assert after["facts"] == before["facts"]
    # the session's summary is not written again: five turns are too few for one
    assert [k for k in after["links"] if k.relation != "summarizes"] == [
        k for k in before["links"] if k.relation != "summarizes"
    ]
    assert {e[1] for e in after["derived"]} == {"fact", "summary"}  # another session's


def test_forgetting_a_namespace_leaves_nothing_of_its_consolidation(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    mem.forget_namespace("u")
    assert mem.facts(namespace="u") == []
    assert mem.store.links("u") == []
    mem.add_many(history()[:2], namespace="u")
    assert mem.store.pending_count("u") == 2


def test_episodes_written_during_a_run_wait_for_the_next(mem: Memory) -> None:
    added: list[str] = []

    def write_meanwhile(done: int, total: int) -> None:
        if done and not added:
            e = mem.add("I moved to Oslo.", namespace="u", speaker="Maya", occurred_at=day(400))
            added.append(e.id)

    report = mem.consolidate(namespace="u", now=NOW, progress=write_meanwhile)
    assert report.episodes == 16
    assert report.pending == 1
    assert mem.consolidate(namespace="u", now=NOW).episodes == 1
    assert mem.facts(namespace="u", attribute="residence")[-1].value == "Oslo"


def test_search_returns_episodes_by_default_and_facts_when_asked(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    hits = mem.search("Where does Maya live?", namespace="u", now=NOW, limit=50)
    assert {h.engram.kind for h in hits} == {"episode"}
    facts = mem.search("Where does Maya live?", namespace="u", now=NOW, kinds="fact")
    assert {h.engram.kind for h in facts} == {"fact"}
    both = mem.search("Maya", namespace="u", now=NOW, kinds=["fact", "summary"], limit=100)
    assert {h.engram.kind for h in both} == {"fact", "summary"}
    with pytest.raises(InvalidInputError):
        mem.search("Maya", namespace="u", kinds=["memo"])
    early = mem.search("Maya", namespace="u", now=NOW, as_of=day(50), limit=100)
    assert all(h.engram.occurred_at <= day(50) for h in early)
