"""``engram import`` of other tools' files (docs/integrations/importers.md), each on a
small fixture of this project's in ``tests/cli/importers/``: what is stored, where,
with which fields, and what is skipped with which reason."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import Memory
from engramdb.embed import Embedder

from .support import Invoke, assert_one_line_error, ok_json

FIXTURES = Path(__file__).parent / "importers"
PACIFIC = timezone(timedelta(hours=-7))


def _import(invoke: Invoke, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = ok_json(invoke("--json", "import", "--no-wait", *args))
    return found


def _stored(store: Path, embedder: Embedder) -> dict[str, list[dict[str, Any]]]:
    """Every memory of the store by namespace, as its export record's latest version."""
    found: dict[str, list[dict[str, Any]]] = {}
    with Memory(str(store), embedder=embedder) as mem:
        for record in mem.export():
            latest = {**record, **record["versions"][-1]}
            found.setdefault(record["namespace"], []).append(latest)
    return found


def _reasons(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["where"], s["reason"]) for s in report["skipped"]]


def test_mem0_export_keeps_text_scopes_times_and_metadata(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(invoke, "--format", "mem0", str(FIXTURES / "mem0_export.json"))
    assert report["imported"] == 4
    assert report["namespaces"] == {
        "user-alice": 1,
        "user-alice:agent-support-bot": 1,
        "agent-support-bot": 1,
        "user-bob-2:run-trip-planning": 1,
    }
    assert [where for where, _ in _reasons(report)] == ["memory 5", "memory 6"]
    assert _reasons(report)[0][1] == "no memory text"
    assert "not a time" in _reasons(report)[1][1]
    stored = _stored(tmp_path / "store", embedder)
    (veggie,) = stored["user-alice"]
    assert veggie["text"] == "Is a vegetarian and allergic to nuts"
    assert veggie["occurred_at"] == "2024-07-26T06:57:00.108347Z"  # -07:00 kept as UTC
    assert veggie["metadata"] == {
        "category": "food",
        "confidence": 0.9,
        "user_id": "alice",
        "mem0_id": "892db2ae-06d9-49e5-8b3e-585ef9b85b8e",
        "mem0_updated_at": "2024-07-26T15:10:11Z",
    }
    (ali,) = stored["user-alice:agent-support-bot"]
    assert ali["speaker"] == "alice"
    assert ali["occurred_at"] == "2024-07-27T10:00:00Z"  # a naive mem0 time is UTC
    assert ali["metadata"]["agent_id"] == "support-bot"
    assert ali["metadata"]["role"] == "user"
    (trip,) = stored["user-bob-2:run-trip-planning"]
    assert trip["metadata"]["user_id"] == "bob 2"  # the namespace is sanitised, not the id


def test_a_second_mem0_import_stores_nothing_twice(invoke: Invoke) -> None:
    file = str(FIXTURES / "mem0_export.json")
    _import(invoke, "--format", "mem0", file)
    again = _import(invoke, "--format", "mem0", file)
    assert again["imported"] == 0
    assert again["repeated"] == 4


def test_mem0_export_into_one_namespace_keeps_the_scope_in_metadata(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(
        invoke, "--format", "mem0", "-n", "migrated", str(FIXTURES / "mem0_export.json")
    )
    assert report["namespaces"] == {"migrated": 4}
    agents = {
        m["metadata"].get("agent_id") for m in _stored(tmp_path / "store", embedder)["migrated"]
    }
    assert agents == {None, "support-bot"}


def _history_db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as db:
        db.executescript((FIXTURES / "mem0_history.sql").read_text(encoding="utf-8"))
    return path


def test_mem0_history_database_gives_each_memory_at_its_latest_text(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    history = _history_db(tmp_path)
    before = history.read_bytes()
    report = _import(invoke, "--format", "mem0", "-n", "maya", str(history))
    assert history.read_bytes() == before  # read only
    assert report["imported"] == 2
    assert _reasons(report) == [("memory m-job", "deleted in mem0")]
    stored = {m["text"]: m for m in _stored(tmp_path / "store", embedder)["maya"]}
    assert set(stored) == {"Lives in Lisbon", "Has a dog called Pastel"}
    lives = stored["Lives in Lisbon"]
    assert lives["occurred_at"] == "2024-05-01T17:00:00Z"
    assert lives["metadata"] == {
        "mem0_id": "m-lives",
        "mem0_versions": 2,
        "mem0_updated_at": "2024-06-15T16:00:00Z",
    }
    assert stored["Has a dog called Pastel"]["speaker"] == "maya"


def test_a_sqlite_file_that_is_not_mem0_s_is_one_line(invoke: Invoke, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    message = assert_one_line_error(invoke("import", "--format", "mem0", str(other)), 2)
    assert "no table 'history'" in message


def test_mcp_memory_graph_becomes_observations_and_relations(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(
        invoke, "--format", "mcp-memory", "-n", "graph", str(FIXTURES / "mcp_memory.jsonl")
    )
    assert report["imported"] == 3
    assert _reasons(report) == [
        ("line 2", "an entity without observations"),
        ("line 4", "a relation without from, to or relationType"),
        ("line 5", "neither an entity nor a relation"),
    ]
    stored = {m["text"]: m["metadata"] for m in _stored(tmp_path / "store", embedder)["graph"]}
    assert stored == {
        "John_Smith: Speaks fluent Spanish": {"entity": "John_Smith", "entity_type": "person"},
        "John_Smith: Graduated in 2019": {"entity": "John_Smith", "entity_type": "person"},
        "John_Smith works at Anthropic": {
            "relation": "works_at",
            "from": "John_Smith",
            "to": "Anthropic",
        },
    }


def test_openai_chat_json_keeps_turns_speakers_and_sessions(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(
        invoke, "--format", "openai-chat", "-n", "chats", str(FIXTURES / "openai_chat.json")
    )
    assert report["imported"] == 5
    assert [reason for _, reason in _reasons(report)] == [
        "a system message",
        "a tool call",
        "a tool message",
    ]
    stored = _stored(tmp_path / "store", embedder)["chats"]
    turns = {m["text"]: (m["speaker"], m["session"]) for m in stored}
    assert turns == {
        "I am flying to Lisbon on 3 March.": ("Maya", "trip-chat"),
        "Lovely! Do you need a hotel?": ("assistant", "trip-chat"),
        "Yes, near the river please.": ("Maya", "trip-chat"),
        "My cello lesson moved to Thursdays.": ("user", "openai_chat-2"),
        "Noted: cello on Thursdays.": ("assistant", "openai_chat-2"),
    }
    times = {m["text"]: m["occurred_at"] for m in stored}
    assert times["I am flying to Lisbon on 3 March."] == "2024-02-20T18:00:00Z"
    assert times["Lovely! Do you need a hotel?"] == "2024-02-20T18:00:30Z"  # epoch seconds


def test_openai_chat_jsonl_reads_one_conversation_a_line(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(
        invoke, "--format", "openai-chat", "-n", "ft", str(FIXTURES / "openai_chat.jsonl")
    )
    assert report["imported"] == 3
    assert _reasons(report) == [("conversation 2 message 1", "a developer message")]
    texts = {m["text"] for m in _stored(tmp_path / "store", embedder)["ft"]}
    assert "Our anniversary is on 12 June." in texts  # the text part of a mixed content list


def test_csv_with_a_column_mapping(invoke: Invoke, tmp_path: Path, embedder: Embedder) -> None:
    report = _import(
        invoke,
        "-n",
        "notes",
        "--map",
        "text=note",
        "--map",
        "speaker=author",
        "--map",
        "occurred_at=when",
        "--map",
        "session=thread",
        str(FIXTURES / "notes.csv"),
    )
    assert report["format"] == "csv"
    assert report["imported"] == 2
    assert [where for where, _ in _reasons(report)] == ["line 4", "line 5"]
    assert _reasons(report)[0][1] == "no text"
    stored = {m["text"]: m for m in _stored(tmp_path / "store", embedder)["notes"]}
    vet = stored["Book the vet for Pastel's vaccinations"]
    assert (vet["speaker"], vet["session"], vet["occurred_at"]) == (
        "Maya",
        "pets",
        "2024-04-02T09:00:00Z",
    )
    assert vet["metadata"] == {"topic": "home", "priority": "high"}
    plumber = stored["The plumber comes on Friday, 8 am"]
    assert plumber["metadata"] == {"topic": "home"}  # the empty cell is left out
    assert plumber["occurred_at"] == "2024-04-03T17:45:00Z"


def test_jsonl_with_a_column_mapping_routes_namespaces(
    invoke: Invoke, tmp_path: Path, embedder: Embedder
) -> None:
    report = _import(
        invoke,
        "--format",
        "jsonl",
        "--map",
        "text=body",
        "--map",
        "namespace=user",
        "--map",
        "occurred_at=ts",
        str(FIXTURES / "notes.jsonl"),
    )
    assert report["namespaces"] == {"maya": 1, "jonah": 1}
    assert _reasons(report) == [("line 3", "no text")]
    stored = _stored(tmp_path / "store", embedder)
    (helmet,) = stored["maya"]
    assert helmet["metadata"] == {"tags": ["bike", "safety"]}
    assert helmet["occurred_at"] == datetime.fromtimestamp(1712300000, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    (fetch,) = stored["jonah"]
    assert fetch["dynamics"]["importance"] == pytest.approx(0.8)
    assert fetch["occurred_at"] == "2024-04-06T10:00:00Z"


def test_a_record_the_store_would_refuse_is_skipped_not_fatal(
    invoke: Invoke, tmp_path: Path
) -> None:
    rows = [{"body": "fine"}, {"body": "too important", "importance": 7}]
    file = tmp_path / "rows.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = _import(invoke, "--map", "text=body", str(file))
    assert report["imported"] == 1
    ((where, reason),) = _reasons(report)
    assert where == "line 2"
    assert "importance" in reason


def test_the_text_report_names_what_was_skipped_and_why(invoke: Invoke, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "mcp_memory.jsonl", tmp_path / "memory.jsonl")
    result = invoke("import", "--no-wait", "--format", "mcp-memory", str(tmp_path / "memory.jsonl"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "imported 3 memories: default (3)",
        "skipped 3: an entity without observations (1), a relation without from, to or "
        "relationType (1), neither an entity nor a relation (1)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "text=note", "--format", "mem0"], "--map is for --format csv or jsonl"),
        (["--map", "txt=note"], "expected FIELD=COLUMN"),
        (["--map", "text=nothing"], "no row has a column 'nothing'"),
    ],
)
def test_a_bad_mapping_is_one_line(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("import", *args, str(FIXTURES / "notes.csv"))
    assert message in assert_one_line_error(result, 2)
