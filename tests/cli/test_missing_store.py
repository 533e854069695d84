"""Commands that only read never create a store (docs/cli.md, "Exit codes").

``engram --store ./typo search dog`` used to answer "no memories found" and
leave ``./typo/engram.db`` behind. Every command that only reads now exits 3
with one line naming the path, and leaves nothing on disk: no folder, no
database, no ``keys.db``, no ``audit.db``, no output file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from engramdb.cli import app

from .support import assert_one_line_error, ok_json

ABSENT_ID = "0" * 32
# "{out}" stands for a file outside the store that the command would write.
READ_COMMANDS = [
    ("search", "dog"),
    ("search", "dog", "--no-reinforce"),
    ("get", ABSENT_ID),
    ("history", ABSENT_ID),
    ("stats",),
    ("namespaces",),
    ("export",),
    ("export", "--out", "{out}"),
    ("check",),
    ("audit",),
    ("verify-erasure", "dog"),
    ("context", "dog"),
    ("working", "s1"),
    ("mood",),
    ("curve", ABSENT_ID, "--out", "{out}"),
    ("budget", "default"),
    ("keys", "list"),
    ("backup", "{out}"),
]


def _name(command: tuple[str, ...]) -> str:
    return " ".join(command).replace(ABSENT_ID, "ID")


def _run(store: Path | str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--store", str(store), *args])


@pytest.mark.parametrize("form", ["folder", "db-file"])
@pytest.mark.parametrize("command", READ_COMMANDS, ids=_name)
def test_a_read_command_on_a_missing_store_is_not_found_and_creates_nothing(
    tmp_path: Path, command: tuple[str, ...], form: str
) -> None:
    store = tmp_path / ("typo" if form == "folder" else "typo.db")
    out = tmp_path / "elsewhere" / "out.file"
    args = [str(out) if a == "{out}" else a for a in command]
    line = assert_one_line_error(_run(store, *args), 3)
    assert str(store) in line
    assert not store.exists()
    assert not out.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", READ_COMMANDS, ids=_name)
def test_a_read_command_on_a_folder_without_a_store_leaves_it_empty(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    out = tmp_path / "elsewhere" / "out.file"
    args = [str(out) if a == "{out}" else a for a in command]
    line = assert_one_line_error(_run(folder, *args), 3)
    assert str(folder) in line
    assert list(folder.iterdir()) == []
    assert not out.parent.exists()


def test_the_error_is_one_line_with_json_too(tmp_path: Path) -> None:
    line = assert_one_line_error(_run(tmp_path / "typo", "--json", "stats"), 3)
    assert "no store at" in line
    assert not (tmp_path / "typo").exists()


def test_an_in_memory_store_is_not_a_path(tmp_path: Path) -> None:
    assert ok_json(_run(":memory:", "--json", "stats")) == {"namespaces": []}
    assert _run(":memory:", "namespaces").exit_code == 0


def test_keys_list_on_a_store_without_keys_creates_no_key_file(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _run(store, "budget", "default", "--max-memories", "5").exit_code == 0
    assert ok_json(_run(store, "--json", "keys", "list")) == {"keys": []}
    assert not (store / "keys.db").exists()


def test_a_write_command_still_creates_the_store(tmp_path: Path) -> None:
    store = tmp_path / "new" / "store"
    assert _run(store, "budget", "default", "--max-memories", "5").exit_code == 0
    assert (store / "engram.db").is_file()
    assert ok_json(_run(store, "--json", "stats")) == {"namespaces": []}
