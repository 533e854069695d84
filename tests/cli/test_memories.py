"""add, search, get, update, delete, history: happy paths, text and --json."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import Invoke, ok_json

NOW = "2024-08-17T09:30:00Z"


@pytest.fixture(scope="module")
def dog_id(shared: Invoke) -> str:
    """One store per module: a few memories in namespace 'friends'."""
    ids: list[str] = []
    for text, speaker, when, dia in [
        ("I moved to Lisbon with Tomás in February.", "Maya", "2024-02-10T18:30:00Z", "D1:1"),
        (
            "We adopted a scruffy terrier called Pastel.",
            "Maya",
            "2024-03-23T10:15:00+01:00",
            "D2:1",
        ),
        ("I started at the design studio in Bristol.", "Jonah", "2024-03-23T10:16:00Z", "D2:2"),
    ]:
        result = shared(
            "--json", "add", text, "-n", "friends", "--session", f"s-{dia[1]}",
            "--speaker", speaker, "--occurred-at", when, "--metadata", f'{{"dia_id": "{dia}"}}',
        )  # fmt: skip
        ids.append(ok_json(result)["id"])
    return ids[1]


def test_add_prints_the_id_and_stores_every_field(shared: Invoke) -> None:
    result = shared("add", "Jonah rented a cello.", "--speaker", "Jonah", "-n", "solo")
    assert result.exit_code == 0, result.output
    engram_id = result.stdout.strip()
    assert len(engram_id) == 32
    engram = ok_json(shared("--json", "get", engram_id, "-n", "solo"))
    assert engram["text"] == "Jonah rented a cello."
    assert engram["speaker"] == "Jonah"
    assert engram["namespace"] == "solo"
    assert engram["version"] == 1


def test_add_prints_what_its_help_promises(shared: Invoke) -> None:
    # The id alone, so ``ID=$(engram add ...)`` works; the memory as stored is --json's.
    shown = " ".join(shared("add", "--help").stdout.split())
    assert "Remember one experience and print its id (with --json: the memory as stored)." in shown
    result = shared("add", "Pastel chewed a sock.", "-n", "solo")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"[0-9a-f]{32}\n", result.stdout), result.stdout
    stored = ok_json(shared("--json", "add", "Pastel chewed a shoe.", "-n", "solo"))
    assert (stored["text"], stored["version"], stored["kind"]) == (
        "Pastel chewed a shoe.",
        1,
        "episode",
    )


def test_add_json_returns_the_engram_in_utc(shared: Invoke, dog_id: str) -> None:
    engram = ok_json(shared("--json", "get", dog_id, "--namespace", "friends"))
    assert engram["occurred_at"] == "2024-03-23T09:15:00Z"  # +01:00 stored as UTC
    assert engram["metadata"] == {"dia_id": "D2:1"}
    assert engram["session"] == "s-2"
    assert set(engram) == {
        "id", "namespace", "text", "session", "speaker", "metadata", "kind", "version",
        "occurred_at", "recorded_at", "valid_from",
        # memory dynamics (docs/dynamics.md); "retention" is R(now), added by get
        "importance", "stability_days", "valence", "arousal", "emotion", "recalls",
        "last_recalled_at", "dormant", "retention",
        "repeated",  # docs/repetition.md: false, but on what an add found already held
        "expires_at",  # docs/expiry.md: null, never
    }  # fmt: skip


def test_global_namespace_is_the_default_for_commands(shared: Invoke, dog_id: str) -> None:
    assert ok_json(shared("--json", "-n", "friends", "get", dog_id))["id"] == dog_id


def test_search_shows_rank_score_date_speaker_text_and_why(shared: Invoke, dog_id: str) -> None:
    result = shared("search", "what is the dog called?", "-n", "friends", "--now", NOW)
    assert result.exit_code == 0, result.output
    first, why = result.stdout.splitlines()[:2]
    assert first.lstrip().startswith("1. ")
    assert "2024-03-23  Maya: We adopted a scruffy terrier called Pastel." in first
    assert why.strip().startswith("why: ")


def test_search_json_has_hits_with_explanations(shared: Invoke, dog_id: str) -> None:
    doc = ok_json(
        shared("--json", "search", "terrier", "-n", "friends", "--limit", "2", "--now", NOW)
    )
    assert doc["namespace"] == "friends"
    assert doc["now"] == NOW
    assert 1 <= len(doc["hits"]) <= 2
    hit = doc["hits"][0]
    assert hit["rank"] == 1
    assert hit["engram"]["id"] == dog_id
    assert hit["explain"]["summary"]
    assert {c["signal"] for c in hit["explain"]["contributions"]}
    assert hit["neighbours"] == []


def test_search_neighbours_shows_the_turns_around_a_hit(shared: Invoke) -> None:
    for i, text in enumerate(["We met at the station.", "He played Bach on a cello.", "Bye!"]):
        shared("add", text, "-n", "talk", "--session", "s1",
               "--occurred-at", f"2024-01-01T10:0{i}:00Z")  # fmt: skip
    doc = ok_json(shared("--json", "search", "Bach cello", "-n", "talk", "--neighbours", "1"))
    top = doc["hits"][0]
    assert top["engram"]["text"] == "He played Bach on a cello."
    assert [n["text"] for n in top["neighbours"]] == ["We met at the station.", "Bye!"]
    shown = shared("search", "Bach cello", "-n", "talk", "--neighbours", "1", "--limit", "1")
    assert "~ 2024-01-01  We met at the station." in shown.stdout


def test_search_of_an_empty_namespace_says_so(shared: Invoke) -> None:
    result = shared("search", "anything", "-n", "empty")
    assert result.exit_code == 0
    assert "no memories found" in result.stdout
    assert ok_json(shared("--json", "search", "anything", "-n", "empty"))["hits"] == []


def test_get_text_lists_every_field(shared: Invoke, dog_id: str) -> None:
    result = shared("get", dog_id, "-n", "friends")
    assert result.exit_code == 0, result.output
    assert f"id           {dog_id}" in result.stdout
    assert "text         We adopted a scruffy terrier called Pastel." in result.stdout


def test_update_then_history_keeps_every_version(shared: Invoke) -> None:
    engram_id = ok_json(shared("--json", "add", "I live in Leeds.", "-n", "upd"))["id"]
    result = shared("update", engram_id, "-n", "upd", "--text", "I live in Lisbon.")
    assert result.exit_code == 0, result.output
    assert "version 2" in result.stdout
    updated = ok_json(
        shared("--json", "update", engram_id, "-n", "upd", "--speaker", "Maya",
               "--occurred-at", "2024-02-10T18:30:00Z", "--metadata", '{"moved": true}')
    )  # fmt: skip
    assert (updated["version"], updated["speaker"]) == (3, "Maya")
    assert updated["metadata"] == {"moved": True}
    assert updated["text"] == "I live in Lisbon."
    doc = ok_json(shared("--json", "history", engram_id, "-n", "upd"))
    assert doc["id"] == engram_id
    versions = doc["versions"]
    assert [v["text"] for v in versions] == [
        "I live in Leeds.",
        "I live in Lisbon.",
        "I live in Lisbon.",
    ]
    assert versions[0]["valid_to"] == versions[1]["valid_from"]
    assert versions[-1]["valid_to"] is None
    text = shared("history", engram_id, "-n", "upd").stdout
    assert text.startswith("v1  valid ")
    assert ".. now" in text


def test_delete_removes_the_memory(shared: Invoke) -> None:
    engram_id = ok_json(shared("--json", "add", "Short-lived.", "-n", "del"))["id"]
    assert ok_json(shared("--json", "delete", engram_id, "-n", "del")) == {
        "deleted": engram_id,
        "namespace": "del",
    }
    assert shared("get", engram_id, "-n", "del").exit_code == 3
    again = ok_json(shared("--json", "add", "Also short-lived.", "-n", "del"))["id"]
    result = shared("delete", again, "-n", "del")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"deleted {again}"


def test_curve_writes_a_png_and_get_shows_dynamics(
    shared: Invoke, dog_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "curve.png"
    result = shared("curve", dog_id, "-n", "friends", "--out", str(out), "--days", "30")
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = shared("get", dog_id, "-n", "friends")
    for field in ("importance", "stability", "retention", "emotion", "dormant"):
        assert field in shown.stdout
    hits = shared(
        "search", "dog", "-n", "friends", "--now", NOW, "--no-reinforce", "--include-dormant"
    )
    assert hits.exit_code == 0
    assert "[R " in hits.stdout
    assert " d, importance " in hits.stdout
