"""README.md keeps its promises about the command line (it cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from engramdb.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _listed_commands() -> list[str]:
    """The names in the README's one-line command list: `engram add | search | ...`."""
    found = re.search(r"`engram ((?:[a-z-]+ \|\s*)+[a-z-]+)`", README)
    assert found, "README.md has no `engram a | b | ...` command list"
    return [name.strip() for name in found.group(1).split("|")]


def test_the_readme_lists_every_command_of_engram_help() -> None:
    commands = getattr(typer.main.get_command(app), "commands", {})
    listed = _listed_commands()
    assert len(listed) == len(set(listed)), "a command is listed twice"
    assert sorted(listed) == sorted(commands)
