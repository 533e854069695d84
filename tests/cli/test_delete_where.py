"""engram delete-where: a dry run, the confirmation, the refusals, the audit entry."""

from __future__ import annotations

import pytest

from engramdb.cli import admin

from .support import Invoke, assert_one_line_error, ok_json


def _fill(invoke: Invoke) -> None:
    for text, speaker in (("I moved to Lisbon", "Maya"), ("I like chess", "Tom")):
        invoke("add", text, "-n", "u", "--speaker", speaker, "--session", "s1")
    invoke("add", "I moved to Lisbon", "-n", "other", "--speaker", "Maya")


def test_a_dry_run_counts_and_deletes_nothing(invoke: Invoke) -> None:
    _fill(invoke)
    where = '{"speaker": "Maya"}'
    shown = invoke("delete-where", "-n", "u", "--where", where, "--dry-run")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == "would delete 1 memory (1 matched, 0 derived) in 'u'"
    report = ok_json(invoke("--json", "delete-where", "-n", "u", "--where", where, "--dry-run"))
    assert report["dry_run"] is True
    assert len(report["ids"]) == 1
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 2


def test_without_yes_and_without_a_terminal_it_refuses(invoke: Invoke) -> None:
    _fill(invoke)
    line = assert_one_line_error(invoke("delete-where", "-n", "u", "--kinds", "episode"), 2)
    assert "without --yes" in line
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 2


def test_an_empty_filter_is_one_line_and_exit_2(invoke: Invoke) -> None:
    _fill(invoke)
    line = assert_one_line_error(invoke("delete-where", "-n", "u", "--yes"), 2)
    assert "at least one condition" in line
    line = assert_one_line_error(invoke("delete-where", "-n", "u", "--where", "[1]", "--yes"), 2)
    assert "--where" in line


def test_it_asks_on_a_terminal_with_the_count(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin, "interactive", lambda: True)
    _fill(invoke)
    args = ("delete-where", "-n", "u", "--where", '{"speaker": "Maya"}')
    declined = invoke(*args, input="n\n")
    assert declined.exit_code == 1
    assert "Delete 1 memory (1 matched, 0 derived) in namespace 'u'?" in declined.stderr
    assert "nothing was deleted" in declined.stderr
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 2
    accepted = invoke(*args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "deleted 1 memory (1 matched, 0 derived) in 'u'" in accepted.stdout
    assert ok_json(invoke("--json", "stats", "-n", "u"))["namespaces"][0]["engrams"] == 1
    assert ok_json(invoke("--json", "stats", "-n", "other"))["namespaces"][0]["engrams"] == 1


def test_yes_deletes_and_the_audit_log_says_how_many(invoke: Invoke) -> None:
    _fill(invoke)
    done = ok_json(
        invoke("--json", "delete-where", "-n", "u", "--kinds", "episode",
               "--occurred-before", "2999-01-01T00:00:00Z", "--yes")
    )  # fmt: skip
    assert done["dry_run"] is False
    assert len(done["ids"]) == 2
    assert ok_json(invoke("--json", "namespaces")) == {"namespaces": ["other"]}
    entries = ok_json(invoke("--json", "audit"))["entries"]
    assert [(e["action"], e["namespace"], e["count"]) for e in entries][-1] == (
        "delete_where",
        "u",
        2,
    )
