"""export and import: a lossless round trip, plain JSONL items, LoCoMo files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import Invoke, assert_one_line_error, ok_json

LOCOMO = [
    {
        "sample_id": "conv-7",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "I just got back from Kyoto."},
                {"speaker": "Ben", "dia_id": "D1:2", "text": "How were the temples?"},
                {
                    "speaker": "Ana",
                    "dia_id": "D1:3",
                    "text": "Quiet at dawn. Look!",
                    "blip_caption": "a red gate in the snow",
                },
            ],
            "session_2_date_time": "7:05 pm on 21 June, 2023",
            "session_2": [
                {"speaker": "Ben", "dia_id": "D2:1", "text": "My sister had her baby today."},
                {"speaker": "Ana", "dia_id": "D2:2", "text": "Congratulations, uncle Ben!"},
            ],
        },
        "qa": [{"question": "Where did Ana travel?", "answer": "Kyoto", "evidence": ["D1:1"],
                "category": 1}],
    }
]  # fmt: skip


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_export_then_import_into_an_empty_store_is_identical(
    invoke: Invoke, tmp_path: Path
) -> None:
    first = ok_json(invoke("--json", "add", "I live in Leeds.", "-n", "a", "--session", "s1",
                           "--speaker", "Maya", "--occurred-at", "2024-01-05T08:00:00Z",
                           "--metadata", '{"dia_id": "D1:1", "tags": ["home", 1.5]}'))  # fmt: skip
    invoke("update", first["id"], "-n", "a", "--text", "I live in Lisbon.")
    invoke("add", "Pastel steals socks.", "-n", "b")
    invoke("add", "Ünïcödé and emoji 🐕 survive.", "-n", "b")
    dump = tmp_path / "dump.jsonl"
    assert ok_json(invoke("--json", "export", "--out", str(dump))) == {
        "exported": 3,
        "namespace": None,
        "out": str(dump),
    }

    copy = tmp_path / "copy"
    result = invoke("--store", str(copy), "--json", "import", str(dump))
    assert ok_json(result) == {
        "format": "jsonl",
        "imported": 3,
        "namespaces": {"a": 1, "b": 2},
        "repeated": 0,
        "skipped": [],
    }

    again = tmp_path / "again.jsonl"
    assert invoke("--store", str(copy), "export", "-o", str(again)).exit_code == 0
    assert again.read_text(encoding="utf-8") == dump.read_text(encoding="utf-8")
    history = ok_json(invoke("--store", str(copy), "--json", "history", first["id"], "-n", "a"))
    assert [v["text"] for v in history["versions"]] == ["I live in Leeds.", "I live in Lisbon."]


def test_export_to_stdout_is_jsonl_and_can_take_one_namespace(invoke: Invoke) -> None:
    invoke("add", "one", "-n", "a")
    invoke("add", "two", "-n", "b")
    result = invoke("export", "-n", "b")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["namespace"], r["text"], len(r["versions"])) for r in records] == [("b", "two", 1)]
    assert len(invoke("--json", "export").stdout.splitlines()) == 2  # JSONL even with --json


def test_import_plain_items_with_and_without_namespace(invoke: Invoke, tmp_path: Path) -> None:
    items = _write_jsonl(
        tmp_path / "items.jsonl",
        [
            {"text": "We moved to Lisbon.", "speaker": "Maya", "session": "s1",
             "occurred_at": "2024-02-10T18:30:00Z", "metadata": {"dia_id": "D1:1"}},
            {"text": "Jonah got the job.", "namespace": "jonah"},
            {"text": "No date given."},
        ],
    )  # fmt: skip
    result = invoke("import", str(items), "-n", "maya")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 3 memories: maya (2), jonah (1)"
    hits = ok_json(invoke("--json", "search", "Lisbon", "-n", "maya"))["hits"]
    moved = next(h["engram"] for h in hits if h["engram"]["text"] == "We moved to Lisbon.")
    assert moved["occurred_at"] == "2024-02-10T18:30:00Z"
    assert moved["metadata"] == {"dia_id": "D1:1"}
    assert moved["session"] == "s1"


def test_import_locomo_one_namespace_per_conversation_with_dia_ids(
    invoke: Invoke, tmp_path: Path
) -> None:
    path = tmp_path / "tiny_locomo.json"
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    doc = ok_json(invoke("--json", "import", str(path)))
    assert doc == {
        "format": "locomo",
        "imported": 5,
        "namespaces": {"conv-7": 5},
        "repeated": 0,
        "skipped": [],
    }

    records = [json.loads(line) for line in invoke("export", "-n", "conv-7").stdout.splitlines()]
    by_dia = {r["metadata"]["dia_id"]: r for r in records}
    assert sorted(by_dia) == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert by_dia["D1:3"]["text"] == "Quiet at dawn. Look! [shares a photo: a red gate in the snow]"
    assert by_dia["D1:2"]["speaker"] == "Ben"
    assert by_dia["D1:1"]["session"] == "conv-7/session_1"
    assert by_dia["D1:1"]["occurred_at"] == "2023-05-08T13:56:00Z"
    assert by_dia["D2:1"]["occurred_at"] == "2023-06-21T19:05:00Z"

    hits = ok_json(invoke("--json", "search", "baby", "-n", "conv-7", "--limit", "1",
                          "--now", "2023-06-21T19:05:00Z"))["hits"]  # fmt: skip
    assert hits[0]["engram"]["metadata"] == {"dia_id": "D2:1"}


def test_import_locomo_with_prefix_or_namespace(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "data.locomo"  # no telling suffix: auto looks at the content
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    prefixed = ok_json(invoke("--json", "import", str(path), "--namespace-prefix", "lc-"))
    assert prefixed["namespaces"] == {"lc-conv-7": 5}
    forced = ok_json(invoke("--json", "import", str(path), "--format", "locomo", "-n", "all"))
    assert forced["namespaces"] == {"all": 5}


def test_import_malformed_line_writes_nothing(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken"\n', encoding="utf-8")
    line = assert_one_line_error(invoke("import", str(path)), 2)
    assert "bad.jsonl line 3: not valid JSON" in line
    assert not (tmp_path / "store").exists()  # not even an empty store


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"text": "x", "occurred_at": "2024-01-01T00:00:00"}, "line 1: occurred_at"),
        ({"text": "x", "when": "today"}, "unknown keys ['when']"),
        ({"text": ""}, "text must not be empty"),
        ({"text": "x", "namespace": "no spaces"}, "is malformed"),
    ],
)
def test_import_bad_items_exit_2(
    invoke: Invoke, tmp_path: Path, row: dict[str, object], says: str
) -> None:
    path = _write_jsonl(tmp_path / "items.jsonl", [row])
    assert says in assert_one_line_error(invoke("import", str(path)), 2)


def test_import_an_exported_record_twice_is_refused(invoke: Invoke, tmp_path: Path) -> None:
    invoke("add", "only once")
    dump = tmp_path / "dump.jsonl"
    invoke("export", "--out", str(dump))
    assert "already exists" in assert_one_line_error(invoke("import", str(dump)), 2)


def test_import_missing_file_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("import", str(tmp_path / "nope.jsonl")).exit_code == 2
