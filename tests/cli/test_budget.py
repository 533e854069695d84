"""engram budget and engram fade: show, store, clear, fade, audit."""

from __future__ import annotations

from pathlib import Path

from engramdb import Memory
from engramdb.security.audit import SqliteAuditLog, audit_path

from .support import Invoke, assert_one_line_error, ok_json


def test_budget_shows_stores_and_clears(invoke: Invoke, tmp_path: Path) -> None:
    Memory(str(tmp_path / "store")).close()  # a missing one is exit 3: test_missing_store.py
    assert invoke("budget", "garden").stdout.strip() == "garden: no budget"
    stored = ok_json(invoke("--json", "budget", "garden", "--max-memories", "500"))
    assert stored == {"namespace": "garden", "max_memories": 500, "max_bytes": None}
    shown = invoke("budget", "garden").stdout.strip()
    assert shown == "garden: at most 500 memories"
    both = invoke("budget", "garden", "--max-memories", "1", "--max-bytes", "2048")
    assert both.stdout.strip() == "garden: at most 1 memory, at most 2,048 bytes"
    assert ok_json(invoke("--json", "budget", "other")) == {
        "namespace": "other",
        "max_memories": None,
        "max_bytes": None,
    }
    cleared = ok_json(invoke("--json", "budget", "garden", "--clear"))
    assert cleared["max_memories"] is None
    assert invoke("budget", "garden").stdout.strip() == "garden: no budget"


def test_budget_refuses_clear_with_bounds_and_negative_bounds(invoke: Invoke) -> None:
    assert_one_line_error(invoke("budget", "garden", "--clear", "--max-bytes", "5"), 2)
    assert_one_line_error(invoke("budget", "garden", "--max-memories", "-1"), 2)
    assert ok_json(invoke("--json", "budget", "garden"))["max_memories"] is None


def test_fade_puts_aside_what_exceeds_the_stored_budget(invoke: Invoke, tmp_path: Path) -> None:
    for day in range(1, 5):
        invoke("add", f"note {day}", "-n", "garden", "--occurred-at", f"2024-01-0{day}T00:00:00Z")
    invoke("add", "elsewhere", "-n", "shed")
    # stored by one invocation, honoured by the next: budgets outlive the process
    invoke("budget", "garden", "--max-memories", "1")
    faded = ok_json(invoke("--json", "fade", "--now", "2024-01-05T00:00:00Z"))
    assert faded == {
        "namespaces": [{"namespace": "garden", "dormant": 3}, {"namespace": "shed", "dormant": 0}]
    }
    again = invoke("fade", "-n", "garden", "--now", "2024-01-05T00:00:00Z")
    assert again.stdout.strip() == "garden: 0 memories turned dormant"
    where = audit_path(str(tmp_path / "store"))
    assert where is not None
    log = SqliteAuditLog(where)
    entries = [(e.actor, e.action, e.namespace, e.count) for e in log.entries()]
    log.close()
    assert entries[-4:] == [
        ("local", "set_budget", "garden", None),
        ("local", "fade", "garden", 3),
        ("local", "fade", "shed", 0),
        ("local", "fade", "garden", 0),
    ]
