"""Erasure on PostgreSQL (docs/security.md, "Erasure"): after ``forget_namespace`` or
``delete``, then ``VACUUM FULL`` and ``CHECKPOINT``, no canary byte is left in any
relation file of the store's schema (tables, TOAST, every index: the HNSW and GIN
ones too) nor in ``pg_dump``'s output. The write-ahead log and base backups are out
of this check's scope (docs/security.md says for how long they keep data)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from engramdb import Memory, Settings
from engramdb.clock import FixedClock
from engramdb.security import where_found
from engramdb.testing.fakes import HashEmbedder

from .conftest import located

Scan = Callable[[str], list[Path]]  # the fixtures of conftest.py
Dump = Callable[[str], bytes]

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
# words the lexical terms keep as they are (stemming changes none of them), so a
# term left in the GIN index would be found too
CANARIES = ("Zorbaxq", "Quillfenwick", "Plumtrazk")


def _turns(session: str, canary: str) -> list[dict[str, Any]]:
    said = [
        ("Maya", f"I live in {canary} and I love sushi."),
        ("Tom", "Nice! What do you do these days?"),
        ("Maya", f"I work at {canary} Corp. My partner is Alex."),
        ("Tom", "Sounds like a good life."),
        ("Maya", "We have 2 dogs, which keeps us busy."),
        ("Tom", "I visited Lisbon last spring."),
        ("Maya", "The weather has been lovely lately."),
    ]
    return [
        {
            "text": text,
            "speaker": speaker,
            "session": session,
            "occurred_at": T0 + timedelta(minutes=i),
            "metadata": {"place": canary},
        }
        for i, (speaker, text) in enumerate(said)
    ]


def _memory(url: str, schema: str) -> Memory:
    location = located(url, schema)
    return Memory(location, embedder=HashEmbedder(), settings=Settings(consolidation_batch=4))


def _canaries_in(dump: bytes) -> list[str]:
    return [c for c in CANARIES if c.lower().encode() in dump]


def test_forget_namespace_leaves_no_canary_in_any_relation_file_or_dump(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    with _memory(postgres_url, schema) as mem:
        for i, canary in enumerate(CANARIES):
            mem.add_many(_turns(f"s{i}", canary), namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        # the pinned profile, every version of it (docs/profile.md), goes with the namespace
        mem.pin("home", f"Maya lives in {CANARIES[0]}", namespace="private")
        mem.pin("home", f"Maya lives in {CANARIES[1]}", namespace="private")
        mem.consolidate(namespace="private")
        assert {"fact", "summary"} <= {e.get("kind") for e in mem.export(namespace="private")}
        assert where_found(relation_files(schema), CANARIES)  # seen first
        assert _canaries_in(dump(schema)) == list(CANARIES)
        assert mem.forget_namespace("private") > 0
        assert mem.namespaces() == ["other"]
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []


def test_delete_leaves_no_canary_in_any_relation_file_or_dump(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    with _memory(postgres_url, schema) as mem:
        mem.add_many(_turns("s0", "Maya"), namespace="u")
        secret = mem.add(
            "My bank PIN is hidden under Zorbaxq, tell nobody.",
            namespace="u",
            speaker="Maya",
            session="s0",
            occurred_at=T0 + timedelta(minutes=30),
            idempotency_key="Quillfenwick",
        )
        mem.update(
            secret.id, text="My bank PIN is hidden under Zorbaxq, or Plumtrazk.", namespace="u"
        )
        mem.consolidate(namespace="u")
        assert where_found(relation_files(schema), CANARIES[::2])  # seen first
        mem.delete(secret.id, namespace="u")
        assert mem.stats(namespace="u").engrams > 0  # the rest stays
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []


def test_forget_namespace_leaves_no_experience_or_concept_canary(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    # experiences and concepts are memories of their own kinds (docs/learning.md)
    with _memory(postgres_url, schema) as mem:
        mem.record_experience(
            f"the {CANARIES[0]} pipeline stalls", f"restart {CANARIES[1]}", "ok", 0.8,
            namespace="private",
        )  # fmt: skip
        mem.teach(CANARIES[2], [f"my {CANARIES[2]} puppy barks"], namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        assert where_found(relation_files(schema), CANARIES)  # seen first
        assert mem.forget_namespace("private") == 2
        assert mem.concepts(namespace="private") == []
        assert mem.recall_experiences("pipeline", namespace="private") == []
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []


def test_delete_where_leaves_no_canary_in_any_relation_file_or_dump(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    # The canaries are in the sessions the filter takes (with what consolidation
    # derived from them); another speaker's session of the namespace stays, and
    # check() is clean.
    with _memory(postgres_url, schema) as mem:
        for i, canary in enumerate(CANARIES):
            mem.add_many(_turns(f"s{i}", canary), namespace="u")
        kept = mem.add_many(
            [
                {"text": "Zed plays chess on Sundays.", "speaker": "Zed", "session": "s9"},
                {"text": "Zed keeps bees in the garden.", "speaker": "Zed", "session": "s9"},
            ],
            namespace="u",
        )
        mem.consolidate(namespace="u")
        assert where_found(relation_files(schema), CANARIES)  # seen first
        report = mem.delete_where(namespace="u", where={"metadata.place": {"$in": list(CANARIES)}})
        assert len(report.ids) == 7 * len(CANARIES)
        assert report.derived
        assert mem.check() == []
        assert {e.id for e in kept} <= {e["id"] for e in mem.export(namespace="u")}
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []


def test_erasing_an_episode_takes_derived_facts_that_have_other_sources_too(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    # Each canary is said once and lands in a fact that also stands on other memories:
    # a situation from two episodes' facts, a fact another episode merged into, a
    # situation gone stale. Deleting the canaries' episodes takes those facts along.
    said = [
        ("Maya", "I work at Zorbaxq.", 0),
        ("Maya", "I live in Seattle.", 1),
        ("Ravi", "I live in Seattle Quillfenwick.", 0),
        ("Ravi", "I live in Seattle.", 1),
        ("Lena", "I work at Stripe.", 0),
        ("Lena", "I live in Plumtrazk.", 1),
        ("Lena", "I just moved to Denver.", 2),
    ]
    with _memory(postgres_url, schema) as mem:
        added = mem.add_many(
            [
                {
                    "text": text,
                    "speaker": speaker,
                    "session": f"s{i}",
                    "occurred_at": T0 + timedelta(days=day),
                }
                for i, (speaker, text, day) in enumerate(said)
            ],
            namespace="u",
        )
        mem.consolidate(namespace="u")
        facts = [e for e in mem.export(namespace="u") if e["kind"] == "fact"]
        assert {c for c in CANARIES if any(c in e["text"] for e in facts)} == set(CANARIES)
        assert where_found(relation_files(schema), CANARIES)  # seen first
        doomed = [e for e in added if any(c in e.text for c in CANARIES)]
        mem.delete(doomed[0].id, namespace="u")
        report = mem.delete_where(namespace="u", where={"session": {"$in": ["s2", "s5"]}})
        assert set(report.ids) == {doomed[1].id, doomed[2].id}
        assert len(report.derived) == 3  # Ravi's fact; Lena's residence and stale situation
        assert mem.check() == []
        left = [json.dumps(e) for e in mem.export(namespace="u")]
        assert [c for c in CANARIES if any(c in e for e in left)] == []
        mem.consolidate(namespace="u")  # what the other episodes say comes back
        current = {
            e["text"]
            for e in mem.export(namespace="u")
            if e["kind"] == "fact" and e["fact"]["status"] == "current"
        }
        assert current == {
            "Maya lives in Seattle",
            "Ravi lives in Seattle",
            "Lena works at Stripe",
            "Lena lives in Denver",
            "Lena works at Stripe and lives in Denver",
        }
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []


def test_purge_of_expired_memories_leaves_no_canary_in_any_relation_file_or_dump(
    postgres_url: str, schema: str, relation_files: Scan, dump: Dump
) -> None:
    # The canaries are in memories that expire (docs/expiry.md); a purge after they did
    # erases them as delete_where does, and what never expires stays.
    clock = FixedClock(T0 + timedelta(days=1))
    location = located(postgres_url, schema)
    settings = Settings(consolidation_batch=4)
    with Memory(location, embedder=HashEmbedder(), settings=settings, clock=clock) as mem:
        mem.set_ttl(timedelta(hours=1), namespace="u")
        for i, canary in enumerate(CANARIES):
            mem.add_many(_turns(f"s{i}", canary), namespace="u")
        mem.set_ttl(None, namespace="u")
        kept = mem.add("Zed keeps bees in the garden.", namespace="u", session="s9")
        mem.consolidate(namespace="u")
        assert where_found(relation_files(schema), CANARIES)  # seen first
        clock.advance(timedelta(hours=2))
        (report,) = mem.purge()
        assert len(report.ids) == 7 * len(CANARIES)
        assert report.derived
        assert mem.check() == []
        assert kept.id in {e["id"] for e in mem.export(namespace="u") if "id" in e}
    assert where_found(relation_files(schema), CANARIES) == []
    assert _canaries_in(dump(schema)) == []
