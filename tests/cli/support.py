"""Assertions shared by the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from typer.testing import Result

#: ``invoke(*args, input=None)``: run ``engram --store <store> *args``.
Invoke = Callable[..., Result]


def ok_json(result: Result) -> Any:
    """The JSON document a successful ``--json`` invocation printed."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, code: int) -> str:
    """The command failed with ``code`` and one ``engram: error:`` line, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("engram: error: ")
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    return lines[0]
