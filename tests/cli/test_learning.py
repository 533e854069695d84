"""engram feedback, engram weights, engram reset-weights (docs/learning.md, docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

from engramdb.security.audit import SqliteAuditLog, audit_path

from .support import Invoke, assert_one_line_error, ok_json

TURNS = [
    "Maya adopted a grey cat called Miso.",
    "Maya started a new job as a nurse.",
    "Maya's sister Lena is moving to Berlin.",
    "The cat sleeps on Maya's keyboard every morning.",
]
QUERY = "what pet does Maya have"


def test_feedback_learns_weights_shows_them_and_reset_restores_the_prior(
    invoke: Invoke, tmp_path: Path
) -> None:
    for text in TURNS:
        invoke("add", text, "-n", "chat")
    hits = ok_json(invoke("--json", "search", QUERY, "-n", "chat", "--no-reinforce"))["hits"]
    up, down = hits[2]["engram"]["id"], hits[0]["engram"]["id"]
    judged = ok_json(invoke("--json", "feedback", up, "1", "--query", QUERY, "-n", "chat"))
    assert judged["engram_id"] == up
    said = invoke("feedback", "--query", QUERY, "-n", "chat", "--", down, "-1").stdout
    assert said.startswith(f"recorded -1 for {down} (rank 1); weights")
    shown = ok_json(invoke("--json", "weights", "chat"))
    assert shown["learned"] is True
    assert shown["feedback"] == 2
    table = invoke("weights", "--namespace", "chat").stdout.splitlines()
    assert table[0].startswith("chat: learned from 2 judgements")
    assert table[1].split() == ["signal", "weight", "prior", "shift"]
    assert not ok_json(invoke("--json", "weights", "other"))["learned"]
    reset = ok_json(invoke("--json", "reset-weights", "chat"))
    assert reset["learned"] is False
    assert all(s["shift"] == 0.0 for s in reset["signals"])
    log = SqliteAuditLog(audit_path(str(tmp_path / "store")))
    actions = [e.action for e in log.entries()]
    log.close()
    assert actions.count("feedback") == 2
    assert "reset_weights" in actions


def test_bad_feedback_is_one_line_and_its_exit_code(invoke: Invoke) -> None:
    for text in TURNS:
        invoke("add", text, "-n", "chat")
    hits = ok_json(invoke("--json", "search", QUERY, "-n", "chat", "--limit", "1"))["hits"]
    other = next(
        h["engram"]["id"]
        for h in ok_json(invoke("--json", "search", "Berlin", "-n", "chat"))["hits"]
        if h["engram"]["id"] != hits[0]["engram"]["id"]
    )
    first = hits[0]["engram"]["id"]
    assert_one_line_error(invoke("feedback", first, "2", "--query", QUERY, "-n", "chat"), 2)
    missing = invoke("feedback", other, "1", "--query", QUERY, "-n", "chat", "--limit", "1")
    assert "is not among the query's top 1 hits" in assert_one_line_error(missing, 3)
    assert_one_line_error(invoke("weights", "a", "--namespace", "b"), 2)


def test_weights_take_the_namespace_once(invoke: Invoke) -> None:
    invoke("add", TURNS[0], "-n", "chat")
    for command in ("weights", "reset-weights"):
        refused = invoke(command, "chat", "--namespace", "other")
        assert "give the namespace once" in assert_one_line_error(refused, 2)
        same = ok_json(invoke("--json", command, "chat", "--namespace", "chat"))
        assert same["namespace"] == "chat"
