"""``engram consolidate``: one line per namespace, or one JSON document; repeatable."""

from __future__ import annotations

from .support import Invoke, ok_json


def test_consolidate_reports_and_a_second_run_finds_nothing(invoke: Invoke) -> None:
    for text, when in (("I live in Boston.", "2023-01-02T09:00:00Z"),
                       ("I just moved to Denver!", "2023-06-02T09:00:00Z")):  # fmt: skip
        added = invoke("add", text, "-n", "u", "--speaker", "Maya", "--occurred-at", when)
        assert added.exit_code == 0, added.output
    first = ok_json(invoke("--json", "consolidate", "-n", "u", "--now", "2024-01-01T00:00:00Z"))
    (report,) = first["reports"]
    assert (report["namespace"], report["episodes"], report["superseded"]) == ("u", 2, 1)
    again = invoke("consolidate", "--no-progress")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("u: 0 episodes -> 0 facts")
