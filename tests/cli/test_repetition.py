"""``engram add`` and ``engram import`` store an experience once (docs/repetition.md)."""

from __future__ import annotations

import json
from pathlib import Path

from .support import Invoke, assert_one_line_error, ok_json

SAID = ("-n", "u", "--speaker", "Maya", "--session", "s1", "--occurred-at", "2024-03-23T18:00:00Z")


def test_adding_the_same_turn_twice_prints_the_same_id(invoke: Invoke) -> None:
    first = invoke("add", "I adopted a dog.", *SAID)
    again = invoke("add", "I adopted a dog.", *SAID)
    assert (first.exit_code, again.exit_code) == (0, 0)
    assert again.stdout == first.stdout  # the id alone: ID=$(engram add ...) still works
    assert "repeated" in again.stderr
    assert "repeated" not in first.stderr
    assert ok_json(invoke("--json", "add", "I adopted a dog.", *SAID))["repeated"] is True
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 1


def test_an_idempotency_key_replays_and_refuses_other_text(invoke: Invoke) -> None:
    first = ok_json(invoke("--json", "add", "Booked Lisbon.", "--idempotency-key", "r1"))
    replay = ok_json(invoke("--json", "add", "Booked Lisbon.", "--idempotency-key", "r1"))
    assert replay == {**first, "repeated": True}
    error = assert_one_line_error(invoke("add", "Booked Rome.", "--idempotency-key", "r1"), 2)
    assert "idempotency key 'r1' was used for other content" in error


def test_importing_a_file_twice_stores_it_once(invoke: Invoke, tmp_path: Path) -> None:
    rows = [
        {"text": "I live in Leeds.", "speaker": "Maya", "occurred_at": "2024-01-05T08:00:00Z"},
        {"text": "I live in Leeds.", "speaker": "Maya", "occurred_at": "2024-01-05T08:00:00Z"},
        {"text": "I live in Leeds.", "speaker": "Maya", "occurred_at": "2024-06-05T08:00:00Z"},
        {"text": "Keyed, no time.", "idempotency_key": "line-4"},
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    first = ok_json(invoke("--json", "import", str(path), "-n", "u"))
    assert (first["imported"], first["repeated"]) == (3, 1)
    again = invoke("import", str(path), "-n", "u")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == (
        "imported 0 memories: nothing; 4 already remembered (repetitions, no copy stored)"
    )
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 3
