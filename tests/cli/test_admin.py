"""namespaces, stats, reindex, check, forget-namespace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engramdb import Memory
from engramdb.cli import admin

from .support import Invoke, assert_one_line_error, ok_json


@pytest.fixture(scope="module")
def filled(shared: Invoke) -> Invoke:
    shared("add", "one", "-n", "alpha", "--session", "s1", "--occurred-at", "2024-01-01T00:00:00Z")
    shared("add", "two", "-n", "alpha", "--session", "s2", "--occurred-at", "2024-02-01T00:00:00Z")
    shared("add", "three", "-n", "beta")
    return shared


def test_namespaces_lists_them_in_order(filled: Invoke) -> None:
    assert ok_json(filled("--json", "namespaces")) == {"namespaces": ["alpha", "beta"]}
    assert filled("namespaces").stdout.splitlines() == ["alpha", "beta"]


def test_stats_of_every_namespace_and_of_one(filled: Invoke) -> None:
    every = ok_json(filled("--json", "stats"))["namespaces"]
    assert [s["namespace"] for s in every] == ["alpha", "beta"]
    alpha = ok_json(filled("--json", "stats", "-n", "alpha"))["namespaces"]
    assert alpha == [
        {
            "namespace": "alpha",
            "engrams": 2,
            "versions": 2,
            "sessions": 2,
            "first_occurred_at": "2024-01-01T00:00:00Z",
            "last_occurred_at": "2024-02-01T00:00:00Z",
            "pending_vectors": 0,
        }
    ]
    text = filled("stats", "-n", "alpha").stdout.strip()
    assert text == "alpha: 2 memories, 2 versions, 2 sessions, 2024-01-01 .. 2024-02-01"


def test_stats_of_an_empty_store(invoke: Invoke, tmp_path: Path) -> None:
    Memory(str(tmp_path / "store")).close()  # a missing one is exit 3: test_missing_store.py
    assert invoke("stats").stdout.strip() == "the store is empty"
    assert ok_json(invoke("--json", "stats")) == {"namespaces": []}


def test_reindex_all_and_one(filled: Invoke) -> None:
    assert ok_json(filled("--json", "reindex")) == {"reindexed": 3, "namespace": None}
    assert ok_json(filled("--json", "reindex", "-n", "beta")) == {
        "reindexed": 1,
        "namespace": "beta",
    }
    assert filled("reindex").stdout.strip() == "reindexed 3 memories"


def test_check_a_sound_store(filled: Invoke) -> None:
    result = filled("check")
    assert (result.exit_code, result.stdout.strip()) == (0, "ok")
    assert ok_json(filled("--json", "check")) == {"ok": True, "problems": []}


def test_check_names_a_damaged_saved_vector_index_and_search_still_answers(
    invoke: Invoke, tmp_path: Path
) -> None:
    from engramdb.store.sqlite.annfile import path_of

    invoke("add", "Tom likes chess", "-n", "games")
    path_of(str(tmp_path / "store" / "engram.db"), "games").write_bytes(b"not an index")
    result = invoke("--json", "check")
    assert result.exit_code == 1
    assert any("saved vector index" in p for p in json.loads(result.stdout)["problems"])
    assert invoke("search", "chess", "-n", "games").exit_code == 0
    assert ok_json(invoke("--json", "check")) == {"ok": True, "problems": []}  # it went


def test_forget_namespace_without_yes_and_without_a_terminal_refuses(invoke: Invoke) -> None:
    invoke("add", "keep me", "-n", "precious")
    line = assert_one_line_error(invoke("forget-namespace", "precious"), 2)
    assert "without --yes" in line
    assert ok_json(invoke("--json", "namespaces")) == {"namespaces": ["precious"]}


def test_forget_namespace_asks_on_a_terminal(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin, "interactive", lambda: True)
    invoke("add", "keep me", "-n", "precious")
    declined = invoke("forget-namespace", "precious", input="n\n")
    assert declined.exit_code == 1
    assert "nothing was erased" in declined.stderr
    assert ok_json(invoke("--json", "namespaces")) == {"namespaces": ["precious"]}
    accepted = invoke("forget-namespace", "precious", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert ok_json(invoke("--json", "namespaces")) == {"namespaces": []}


def test_forget_namespace_with_yes(invoke: Invoke) -> None:
    invoke("add", "gone soon", "-n", "tmp")
    invoke("add", "gone too", "-n", "tmp")
    assert ok_json(invoke("--json", "forget-namespace", "tmp", "--yes")) == {
        "namespace": "tmp",
        "forgotten": 2,
    }
    assert ok_json(invoke("--json", "stats", "-n", "tmp"))["namespaces"][0]["engrams"] == 0
    assert invoke("forget-namespace", "tmp", "-y").stdout.strip() == "forgot 0 memories in 'tmp'"
