"""Bad input gives the table's exit code and one ``engram: error:`` line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb import (
    EmbeddingError,
    EngramError,
    IntegrityError,
    InvalidInputError,
    LimitExceededError,
    MissingExtraError,
    ModelIntegrityError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from engramdb.cli import app
from engramdb.cli.errors import exit_code

from .support import Invoke, assert_one_line_error

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("x"), 2),
        (LimitExceededError("x"), 2),
        (NotFoundError("x"), 3),
        (StoreError("x"), 4),
        (SchemaError("x"), 4),
        (IntegrityError("x"), 4),
        (EmbeddingError("x"), 5),
        (ModelIntegrityError("x"), 5),
        (MissingExtraError("x"), 1),
        (EngramError("x"), 1),
        (OSError("x"), 1),
        (RuntimeError("x"), None),
    ],
)
def test_exit_code_table(error: BaseException, code: int | None) -> None:
    assert exit_code(error) == code


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["add", "hi", "--occurred-at", "2024-05-08T13:56:00"], 2, "has no timezone"),
        (["add", "hi", "--occurred-at", "2024-05-08"], 2, "has no timezone"),
        (["add", "hi", "--occurred-at", "last tuesday"], 2, "not an ISO 8601 datetime"),
        (["search", "hi", "--now", "2024-05-08T13:56"], 2, "has no timezone"),
        (["add", "hi", "--occurred-at", "0001-01-01T00:00:00+02:00"], 2, "range of times"),
        (["add", "hi", "--occurred-at", "0001-01-01T00:00:00Z"], 2, "occurred_at must be from"),
        (["search", "hi", "--now", "9999-12-31T23:59:59Z"], 2, "now must be from"),
        (["add", "hi", "--speaker", "a\tb"], 2, "U+0009"),
        (["add", "hi", "--metadata", "{bad json"], 2, "--metadata is not valid JSON"),
        (["add", "hi", "--metadata", "[1, 2]"], 2, "must be a JSON object"),
        (["add", ""], 2, "text must not be empty"),
        (["add", "   "], 2, "text must not be empty"),
        (["add", "hi", "-n", "bad namespace!"], 2, "namespace 'bad namespace!' is malformed"),
        (["-n", "../etc", "stats"], 2, "is malformed"),
        (["add", "hi", "-n", ""], 2, "namespace '' is malformed"),
        (["get", "not-an-id"], 2, "is not a memory id"),
        (["search", "hi", "--limit", "0"], 2, "limit must be at least 1"),
        (["search", "hi", "--neighbours", "99"], 2, "neighbours"),
        (["get", UNKNOWN_ID], 3, f"no memory '{UNKNOWN_ID}'"),
        (["history", UNKNOWN_ID], 3, "no memory"),
        (["delete", UNKNOWN_ID], 3, "no memory"),
        (["update", UNKNOWN_ID, "--text", "new"], 3, "no memory"),
        (["update", UNKNOWN_ID], 2, "nothing to update"),
    ],
)
def test_bad_input_exits_with_one_line(
    shared: Invoke, args: list[str], code: int, says: str
) -> None:
    line = assert_one_line_error(shared(*args), code)
    assert says in line


def test_json_mode_errors_also_go_to_stderr_only(shared: Invoke) -> None:
    assert_one_line_error(shared("--json", "get", UNKNOWN_ID), 3)


def test_usage_errors_are_typers_exit_2(shared: Invoke) -> None:
    assert shared("add").exit_code == 2
    assert shared("search", "hi", "--limit", "many").exit_code == 2
    assert shared("no-such-command").exit_code == 2


def test_a_store_that_is_not_a_store_exits_4(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not a database, just some bytes" * 100)
    result = CliRunner().invoke(app, ["--store", str(bogus), "stats"])
    assert "not" in assert_one_line_error(result, 4)
