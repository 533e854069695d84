"""docs/cli.md documents every command and every option of ``engram`` (it cannot rot)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from engramdb.cli import app

DOC = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
ROOT = typer.main.get_command(app)
COMMANDS = sorted(getattr(ROOT, "commands", {}).items())


def test_the_app_registers_the_expected_commands() -> None:
    assert [name for name, _ in COMMANDS] == sorted(
        ["add", "search", "list", "get", "update", "delete", "delete-where", "history", "curve",
         "expire", "ttl", "purge",
         "context", "working", "mood", "import", "export",
         "namespaces", "stats", "budget", "fade", "reindex", "check", "consolidate", "facts",
         "feedback", "weights", "reset-weights",
         "record-experience", "recall-experiences", "teach", "concepts", "retag",
         "pin", "unpin", "profile", "profile-proposals",
         "backup", "restore", "forget-namespace", "verify-erasure", "audit",
         "demo", "serve", "mcp", "keys"]
    )  # fmt: skip


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_and_option_is_documented(
    name: str, command: typer.core.TyperCommand
) -> None:
    assert f"### `engram {name}" in DOC
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("-"):
                assert f"`{opt}" in DOC, f"{name} {opt} is not in docs/cli.md"


SUBCOMMANDS = sorted(
    (f"{name} {sub}", command)
    for name, group in COMMANDS
    for sub, command in getattr(group, "commands", {}).items()
)


def test_the_keys_group_registers_api_and_master_key_commands() -> None:
    assert [name for name, _ in SUBCOMMANDS] == [
        "keys create",
        "keys encrypt-store",
        "keys list",
        "keys new-master",
        "keys revoke",
        "keys rotate-master",
    ]


@pytest.mark.parametrize(("name", "command"), SUBCOMMANDS, ids=[name for name, _ in SUBCOMMANDS])
def test_every_subcommand_and_option_is_documented(
    name: str, command: typer.core.TyperCommand
) -> None:
    assert f"### `engram {name}" in DOC
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("-"):
                assert f"`{opt}" in DOC, f"{name} {opt} is not in docs/cli.md"


def test_global_options_are_documented() -> None:
    for param in ROOT.params:
        for opt in param.opts:
            assert f"`{opt}" in DOC
