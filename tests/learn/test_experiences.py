"""Experiences (docs/learning.md): recorded, recalled by similarity and reward, with the
forgetting dynamics of every memory, on SQLite and PostgreSQL, encrypted too."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engramdb import EncryptionKey, FixedClock, InvalidInputError, Memory, Settings
from engramdb.embed import Embedder
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
BUILD = "the build fails because a module is missing"


def _memory(location: str, embedder: Embedder, **settings: object) -> Memory:
    return Memory(
        location,
        embedder=embedder,
        clock=FixedClock(T0 + timedelta(days=30)),
        settings=Settings(**settings),  # type: ignore[arg-type]
    )


def _lessons(mem: Memory, namespace: str = "agent") -> None:
    mem.record_experience(BUILD, "reboot the machine", "still failing", -0.8, namespace=namespace)
    mem.record_experience(BUILD, "install the missing module", "it built", 0.9, namespace=namespace)
    mem.record_experience(
        "the garden tomatoes wilt in the afternoon heat",
        "water them at dawn and mulch",
        "they recovered",
        1.0,
        namespace=namespace,
    )


def test_the_best_rewarded_action_of_a_similar_situation_comes_first(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        _lessons(mem)
        hits = mem.recall_experiences("the build broke: module not found", namespace="agent")
        assert [h.experience.action for h in hits[:2]] == [
            "install the missing module",
            "reboot the machine",
        ]
        assert hits[0].experience.reward == pytest.approx(0.9)
        assert hits[0].experience.outcome == "it built"
        assert [h.rank for h in hits] == [1, 2, 3]
        # similarity alone ties the two (the same situation); the reward decides
        assert hits[0].similarity == pytest.approx(hits[1].similarity, abs=1e-5)
        assert hits[0].score > hits[1].score
        # a well-rewarded experience of another situation stays below similar ones
        assert hits[2].experience.action == "water them at dawn and mulch"


def test_experiences_stay_out_of_search_and_are_found_by_kind(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        mem.add("the build failed this morning", namespace="agent")
        _lessons(mem)
        texts = [h.engram.text for h in mem.search("build fails", namespace="agent")]
        assert texts == ["the build failed this morning"]
        kinds = {h.engram.kind for h in mem.search("build", namespace="agent", kinds="experience")}
        assert kinds == {"experience"}


def test_a_recall_strengthens_an_experience_and_time_fades_its_reward(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        old = mem.record_experience(
            BUILD, "clear the cache", "it built", 0.6, namespace="a", occurred_at=T0
        )
        before = mem.get(old.id, namespace="a").stability_days
        hits = mem.recall_experiences(BUILD, namespace="a", now=T0 + timedelta(days=30))
        assert hits[0].experience.id == old.id
        mem.flush()
        assert mem.get(old.id, namespace="a").recalls == 1
        assert mem.get(old.id, namespace="a").stability_days > before
        # not reinforced: no count, and much later the reward counts for less
        later = mem.recall_experiences(
            BUILD, namespace="a", now=T0 + timedelta(days=3_000), reinforce=False
        )
        assert later[0].retention < hits[0].retention
        assert later[0].score < hits[0].score
        mem.flush()
        assert mem.get(old.id, namespace="a").recalls == 1


def test_a_fresh_lesson_outweighs_an_old_one_of_the_same_reward(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        mem.record_experience(
            BUILD, "old fix", "", 0.7, namespace="a", occurred_at=T0 - timedelta(days=900)
        )
        mem.record_experience(BUILD, "new fix", "", 0.7, namespace="a", occurred_at=T0)
        hits = mem.recall_experiences(BUILD, namespace="a", reinforce=False)
        assert [h.experience.action for h in hits] == ["new fix", "old fix"]


def test_recording_checks_its_arguments(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        with pytest.raises(InvalidInputError, match="reward"):
            mem.record_experience(BUILD, "x", "", 1.5, namespace="a")
        with pytest.raises(InvalidInputError, match="action"):
            mem.record_experience(BUILD, "  ", "", 0.5, namespace="a")
        with pytest.raises(InvalidInputError, match="situation"):
            mem.recall_experiences("", namespace="a")
        assert mem.recall_experiences(BUILD, namespace="empty") == []


def test_experiences_never_cross_namespaces(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _lessons(mem, "one")
        assert mem.recall_experiences(BUILD, namespace="two") == []
        mem.record_experience(BUILD, "ask a colleague", "", 0.1, namespace="two")
        actions = {h.experience.action for h in mem.recall_experiences(BUILD, namespace="two")}
        assert actions == {"ask a colleague"}


def test_forget_namespace_erases_experiences(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _lessons(mem, "gone")
        _lessons(mem, "kept")
        assert mem.forget_namespace("gone") == 3
        assert mem.recall_experiences(BUILD, namespace="gone") == []
        assert len(mem.recall_experiences(BUILD, namespace="kept")) == 3


def test_export_and_import_keep_experiences(
    location: str, embedder: Embedder, tmp_path: Path
) -> None:
    with _memory(location, embedder) as mem:
        _lessons(mem)
        records = list(mem.export(namespace="agent"))
    with _memory(str(tmp_path / "copy"), embedder) as copy:
        assert copy.import_records(records, embed="now") == 3
        hits = copy.recall_experiences("the build broke: module not found", namespace="agent")
        assert hits[0].experience.action == "install the missing module"
        assert hits[0].experience.reward == pytest.approx(0.9)


CANARY_SITUATION = "Zorbaxqy pipeline stalls at Quillfenwick stage"
CANARY_ACTION = "restart Plumtrazzle worker"


def test_an_encrypted_store_seals_experiences_and_erasure_leaves_no_canary(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "sealed"
    key = EncryptionKey.from_text(generate_key())
    with _memory(str(store), embedder, encryption=key) as mem:
        mem.record_experience(CANARY_SITUATION, CANARY_ACTION, "Zorbaxqy ok", 0.8, namespace="p")
        mem.record_experience("unrelated", "nothing", "", 0.0, namespace="other")
    canaries = ["Zorbaxqy", "Quillfenwick", "Plumtrazzle", "zorbaxqy", "plumtrazzle"]
    assert where_found(store_files(store), canaries) == []  # sealed at rest
    with _memory(str(store), embedder, encryption=key) as mem:
        hits = mem.recall_experiences("the pipeline stalls", namespace="p")
        assert hits[0].experience.action == CANARY_ACTION  # read back through the key
        assert mem.forget_namespace("p") == 1
        assert mem.recall_experiences("the pipeline stalls", namespace="p") == []


def test_forget_namespace_leaves_no_experience_canary_in_a_plain_store(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "plain"
    with _memory(str(store), embedder) as mem:
        mem.record_experience(CANARY_SITUATION, CANARY_ACTION, "done", 0.8, namespace="p")
        mem.add("Tom likes chess.", namespace="other")
    assert where_found(store_files(store), ["Plumtrazzle"])  # the scan sees it first
    with _memory(str(store), embedder) as mem:
        mem.forget_namespace("p")
    assert where_found(store_files(store), ["Zorbaxqy", "Quillfenwick", "Plumtrazzle"]) == []
