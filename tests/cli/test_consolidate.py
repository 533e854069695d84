"""``engram consolidate``: one line per namespace, or one JSON document; repeatable.
``engram facts`` and ``engram search --as-of/--kinds``: what consolidation wrote."""

from __future__ import annotations

import _thread
import json
import re
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb import Memory, Settings
from engramdb.cli import app
from engramdb.cli.state import State
from engramdb.store.sqlite.database import database_path
from engramdb.testing.fakes import HashEmbedder

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


def _consolidated(invoke: Invoke) -> None:
    for text, when in (("I live in Boston.", "2023-01-02T09:00:00Z"),
                       ("I just moved to Denver!", "2023-06-02T09:00:00Z")):  # fmt: skip
        added = invoke("add", text, "-n", "u", "--speaker", "Maya", "--occurred-at", when)
        assert added.exit_code == 0, added.output
    done = invoke("consolidate", "-n", "u", "--now", "2024-01-01T00:00:00Z")
    assert done.exit_code == 0, done.output


def test_facts_lists_current_and_past_values(invoke: Invoke) -> None:
    _consolidated(invoke)
    listed = invoke("facts", "-n", "u")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [
        "2023-01-02 .. 2023-06-02  superseded  Maya lives in Boston  (Maya / residence = Boston)",
        "2023-06-02 .. now         current     Maya lives in Denver  (Maya / residence = Denver)",
    ]
    march = ("--as-of", "2023-03-01T00:00:00Z")
    then = ok_json(invoke("--json", "facts", "-n", "u", "--subject", "Maya", "--attribute",
                          "residence", *march))  # fmt: skip
    assert (then["namespace"], then["as_of"]) == ("u", "2023-03-01T00:00:00Z")
    (fact,) = then["facts"]
    assert (fact["value"], fact["status"], fact["valid_to"]) == (
        "Boston",
        "superseded",
        "2023-06-02T09:00:00Z",
    )
    assert ok_json(invoke("--json", "facts", "-n", "u", "--subject", "Tom"))["facts"] == []


def test_facts_before_any_consolidation_say_how_to_get_some(invoke: Invoke) -> None:
    invoke("add", "I live in Boston.", "-n", "u", "--speaker", "Maya")
    listed = invoke("facts", "-n", "u")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == "no facts in 'u' (engram consolidate turns episodes into facts)\n"


def test_facts_refuses_a_naive_as_of(invoke: Invoke) -> None:
    refused = invoke("facts", "--as-of", "2023-03-01")
    assert refused.exit_code == 2
    assert "--as-of '2023-03-01' has no timezone" in refused.stderr


def test_search_answers_as_of_a_time_with_the_kinds_asked_for(invoke: Invoke) -> None:
    _consolidated(invoke)
    query = ("search", "Where does Maya live?", "-n", "u", "--limit", "1", "--no-reinforce")
    then = ok_json(invoke("--json", *query, "--kinds", "fact", "--as-of", "2023-03-01T00:00:00Z"))
    (hit,) = then["hits"]
    assert (hit["engram"]["kind"], hit["engram"]["text"]) == ("fact", "Maya lives in Boston")
    now = ok_json(invoke("--json", *query, "--kinds", "fact"))
    assert now["hits"][0]["engram"]["text"] == "Maya lives in Denver"
    shown = invoke(*query, "--kinds", "fact", "--kinds", "summary")
    assert shown.exit_code == 0, shown.output
    assert "[fact] 2023-06-02  Maya: Maya lives in Denver" in shown.stdout
    episodes = ok_json(invoke("--json", *query[:4], "--as-of", "2023-03-01T00:00:00Z"))
    assert [h["engram"]["text"] for h in episodes["hits"]] == ["I live in Boston."]


def test_search_refuses_an_unknown_kind_in_one_line(invoke: Invoke) -> None:
    invoke("add", "I live in Boston.")
    refused = invoke("search", "anything", "--kinds", "memo")
    assert refused.exit_code == 2
    assert "kinds must be among ['concept', 'episode', 'experience', 'fact', 'summary']" in (
        refused.stderr
    )


def test_facts_on_a_missing_store_is_not_found_and_creates_nothing(tmp_path: Path) -> None:
    store = tmp_path / "typo"
    result = CliRunner().invoke(app, ["--store", str(store), "facts"])
    assert result.exit_code == 3, result.output
    assert "no store at" in result.stderr
    assert not store.exists()


def test_ctrl_c_stops_a_run_that_the_next_run_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (a KeyboardInterrupt in the main thread, sent once the first batch is
    committed) ends the command with 130 and a line saying what was kept; the next
    ``engram consolidate`` goes on from there (docs/consolidation.md)."""
    store = tmp_path / "store"

    def memory(self: State) -> Memory:  # small batches: many commits to stop between
        settings = replace(self.settings, consolidation_batch=2)
        return Memory(settings=settings, embedder=HashEmbedder())

    monkeypatch.setattr(State, "memory", memory)
    with memory(State(Settings(path=str(store)), json=False, namespace=None)) as mem:
        mem.add_many(
            [{"text": f"I live in city {i}.", "speaker": f"P{i}"} for i in range(60)],
            namespace="u",
        )

    def consolidated() -> int:
        with closing(sqlite3.connect(f"file:{database_path(store)}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT episodes FROM consolidation_state").fetchone()
        return 0 if row is None else int(row[0])

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 60
        while consolidated() == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        _thread.interrupt_main()

    watcher = threading.Thread(target=press_ctrl_c)
    watcher.start()
    stopped = CliRunner().invoke(app, ["--store", str(store), "consolidate", "-n", "u"])
    watcher.join()
    assert stopped.exit_code == 130, stopped.output
    assert re.fullmatch(
        r"engram: consolidation of 'u' stopped after \d+ episodes; what was done is kept, "
        r"and `engram consolidate` goes on from there\n",
        stopped.stderr,
    ), stopped.stderr
    done = consolidated()
    assert 0 < done < 60
    resumed = CliRunner().invoke(app, ["--store", str(store), "--json", "consolidate", "-n", "u"])
    assert resumed.exit_code == 0, resumed.output
    (report,) = json.loads(resumed.stdout)["reports"]
    assert (report["episodes"], report["pending"]) == (60 - done, 0)
