"""docs/server.md documents every route, every error code and every MCP tool."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from engramdb import Memory, Settings
from engramdb import wire as errors
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp

DOC = (Path(__file__).parents[2] / "docs" / "server.md").read_text(encoding="utf-8")


def _routes() -> list[str]:
    with Memory(":memory:") as memory:
        app = create_app(
            Settings(path=":memory:"), memory=memory, options=ServerOptions(auth=False, mcp=False)
        )
        schema = app.openapi()
    return sorted(
        f"{method.upper()} {path.replace('{namespace}', '{ns}')}"
        for path, operations in schema["paths"].items()
        for method in operations
    )


@pytest.mark.parametrize("route", _routes())
def test_every_route_is_documented(route: str) -> None:
    assert f"`{route}`" in DOC


def test_every_error_code_is_documented() -> None:
    table = r"^\s{4,}\d{3}\s{2,}([a-z_]+)\s{2,}"
    codes = set(re.findall(table, errors.__doc__ or "", re.MULTILINE))
    codes |= {code.code for _, code in errors.ERROR_TABLE}
    assert len(codes) >= 15
    for code in codes:
        assert f"`{code}`" in DOC, code


def test_every_mcp_tool_is_documented() -> None:
    with Memory(":memory:") as memory:
        tools = anyio.run(build_mcp(memory).list_tools)
    for tool in tools:
        assert f"| `{tool.name}` |" in DOC
        for argument in tool.input_schema["properties"]:
            assert f"`{argument}`" in DOC
