"""Erasure reaches facts and summaries that took words from the erased episode even
when they have other sources too (docs/security.md, "Erasure that reaches the files").

Each canary is a made-up word said in one episode only, and consolidation puts it
into a derived memory that also stands on other memories: a situation fact
("works at X and lives in Y") from two facts of two episodes, a fact that a second
episode merged into, and a situation that went stale when its residence was
superseded. Deleting the canary's episode leaves no byte of it in any memory (text,
versions, metadata) nor in any file of the store, and the next consolidation derives
again what the remaining episodes say.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engramdb import EncryptionKey, Memory, Settings
from engramdb.cli import app
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
FILLER = (
    "Nice! What do you do these days?",
    "Sounds like a good life.",
    "The weather has been lovely lately.",
    "I visited Lisbon last spring.",
    "We should meet up soon.",
    "Tell me about the new place.",
)

# canary -> what the speaker's facts are once its episode is gone and the namespace
# is consolidated again
SITUATION, MERGED, STALE = "Grimblefort", "Quillfenwick", "Plumtrazk"
AFTER = {
    SITUATION: {"Maya lives in Seattle"},
    MERGED: {"Ravi lives in Seattle"},
    STALE: {
        "Lena works at Stripe",
        "Lena lives in Denver",
        "Lena works at Stripe and lives in Denver",
    },
}


def _said() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def turn(day: int, session: str, speaker: str, text: str) -> None:
        at = T0 + timedelta(days=day, minutes=len(out))
        metadata = {"turn": len(out)}
        out.append(
            {
                "text": text,
                "speaker": speaker,
                "session": session,
                "occurred_at": at,
                "metadata": metadata,
            }
        )

    # Maya's employer (the canary) and residence, from two episodes, make one
    # situation fact; the employer's session is long enough for a summary
    turn(0, "maya-0", "Maya", f"I work at {SITUATION}.")
    for text in FILLER:
        turn(0, "maya-0", "Tom", text)
    turn(1, "maya-1", "Maya", "I live in Seattle.")
    # Ravi's residence is said twice; the fact keeps the first wording (the canary's)
    turn(0, "ravi-0", "Ravi", f"I live in Seattle {MERGED}.")
    turn(1, "ravi-1", "Ravi", "I live in Seattle.")
    # Lena's residence (the canary) gives a situation, stale once she moves
    turn(0, "lena-0", "Lena", "I work at Stripe.")
    turn(1, "lena-1", "Lena", f"I live in {STALE}.")
    turn(2, "lena-2", "Lena", "I just moved to Denver.")
    return out


def _carrying(mem: Memory, word: str) -> set[str]:
    """The ids of the memories whose exported record (text, every version, metadata,
    fact fields) holds ``word``, ASCII case ignored."""
    return {
        e["id"]
        for e in mem.export(namespace="private")
        if word.lower() in json.dumps(e, ensure_ascii=False).lower()
    }


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
@pytest.mark.parametrize("erase", ["delete", "delete_where"])
@pytest.mark.parametrize("canary", [SITUATION, MERGED, STALE])
def test_erasing_an_episode_takes_every_derived_memory_holding_its_words(
    tmp_path: Path, canary: str, erase: str, encrypted: bool
) -> None:
    store = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    settings = Settings(consolidation_batch=4, encryption=key)
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        added = mem.add_many(_said(), namespace="private")
        mem.consolidate(namespace="private", now=NOW)
        episode = next(e for e in added if canary in e.text)
        speaker = episode.speaker
        assert speaker is not None
        carrying = _carrying(mem, canary) - {episode.id}
        assert carrying, "consolidation put the canary into derived memories"
        shared = [
            e
            for e in mem.export(namespace="private")
            if e["id"] in carrying and {s["id"] for s in e.get("sources", [])} - {episode.id}
        ]
        assert shared, "a derived memory holding the canary has other sources too"
        others = {
            e["id"]: e["text"]
            for e in mem.export(namespace="private")
            if e["kind"] == "fact" and e.get("speaker") not in (speaker, "Tom")
        }
        mem.reindex()  # one merged FTS5 segment holds every token, the canary's too
        if not encrypted:
            assert where_found(store_files(store), [canary])  # the scan sees it first

        if erase == "delete":
            mem.delete(episode.id, namespace="private")
        else:
            report = mem.delete_where(
                namespace="private", where={"metadata.turn": episode.metadata["turn"]}
            )
            assert report.ids == (episode.id,)
            assert carrying <= set(report.derived)

        assert _carrying(mem, canary) == set()
        assert mem.check() == []
        left = {e["id"]: e["text"] for e in mem.export(namespace="private")}
        assert {i: t for i, t in left.items() if i in others} == others  # other speakers
        assert not carrying & set(left)

        # what the remaining episodes say comes back, without the canary
        mem.consolidate(namespace="private", now=NOW)
        current = {
            e["text"]
            for e in mem.export(namespace="private")
            if e["kind"] == "fact"
            and e.get("speaker") == speaker
            and e["fact"]["status"] == "current"
        }
        assert current == AFTER[canary]
        assert _carrying(mem, canary) == set()
        assert mem.check() == []
    needles = [canary, episode.id, *carrying]
    assert where_found(store_files(store), needles) == []
    verified = CliRunner().invoke(app, ["--store", str(store), "verify-erasure", canary])
    assert verified.exit_code == 0, verified.output


def test_a_session_summary_comes_back_without_the_erased_turn(tmp_path: Path) -> None:
    # The summary stands on every turn of its session: it goes with any one of them,
    # and the next consolidation summarises the turns that remain.
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder()) as mem:
        added = mem.add_many(_said(), namespace="private")
        mem.consolidate(namespace="private", now=NOW)
        summary = next(e for e in mem.export(namespace="private") if e["kind"] == "summary")
        mem.delete(added[0].id, namespace="private")
        assert summary["id"] not in {e["id"] for e in mem.export(namespace="private")}
        report = mem.consolidate(namespace="private", now=NOW)
        assert report.summaries == 1
        again = next(e for e in mem.export(namespace="private") if e["kind"] == "summary")
        assert {s["id"] for s in again["sources"]} == {
            e.id for e in added if e.session == "maya-0"
        } - {added[0].id}
        assert SITUATION not in json.dumps(again)
