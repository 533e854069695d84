"""engram demo, the console script and ``python -m engramdb`` (real subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from engramdb.cli.demo import QUESTIONS

from .support import Invoke, ok_json


def test_python_m_engramdb_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engramdb", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: engram" in result.stdout
    for command in ("add", "search", "import", "export", "forget-namespace", "demo"):
        assert command in result.stdout


def test_console_script_demo_recalls_from_the_sample(tmp_path: Path) -> None:
    script = shutil.which("engram", path=str(Path(sys.executable).parent))
    assert script is not None, "the engram console script is not installed"
    result = subprocess.run(
        [script, "--store", str(tmp_path / "store"), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Imported 60 turns")
    assert "Recalling as of 2024-08-17T09:30:00Z" in out
    for question in QUESTIONS:
        assert f"? {question}" in out
    assert out.count("why: ") == 3 * len(QUESTIONS)
    assert "Pastel" in out


def test_demo_is_idempotent_and_json(invoke: Invoke) -> None:
    first = ok_json(invoke("--json", "demo"))
    assert (first["namespace"], first["imported"], first["turns"]) == ("demo", 60, 60)
    assert first["now"] == "2024-08-17T09:30:00Z"
    assert [q["question"] for q in first["questions"]] == list(QUESTIONS)
    assert all(1 <= len(q["hits"]) <= 3 for q in first["questions"])
    second = invoke("demo")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("The sample conversation is already in namespace 'demo'.")
    stats = ok_json(invoke("--json", "stats", "-n", "demo"))["namespaces"][0]
    assert (stats["engrams"], stats["sessions"]) == (60, 5)


def test_sample_conversation_is_well_formed() -> None:
    sample = Path(__file__).parents[2] / "src/engramdb/cli/sample_conversation.jsonl"
    turns = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines()]
    assert 40 <= len(turns) <= 60
    assert {t["speaker"] for t in turns} == {"Maya", "Jonah"}
    assert len({t["session"] for t in turns}) == 5
    assert len({t["metadata"]["dia_id"] for t in turns}) == len(turns)
    assert all(t["occurred_at"].endswith("Z") for t in turns)
