"""Every surface takes every search option the library takes: HTTP, MCP and Client.

A new ``Memory.search`` option (``as_of=``, ``context=``, ...) fails here until it is one
field in ``SearchIn``, one parameter of the MCP ``recall`` tool and of ``Client.search``.
"""

from __future__ import annotations

import inspect

import anyio

from engramdb import Client, Memory
from engramdb.server.mcp import build_mcp
from engramdb.server.schemas import SearchIn

OPTIONS = [
    name for name in inspect.signature(Memory.search).parameters if name not in ("self", "query")
]


def test_the_http_search_body_takes_every_option() -> None:
    # the namespace is in the path, the rest in the body
    assert list(SearchIn.model_fields) == ["query", *(o for o in OPTIONS if o != "namespace")]


def test_the_client_search_takes_every_option() -> None:
    assert [p for p in inspect.signature(Client.search).parameters if p != "self"] == [
        "query",
        *OPTIONS,
    ]


def test_the_mcp_recall_tool_takes_every_option() -> None:
    with Memory(":memory:") as memory:
        server = build_mcp(memory)
        tools = anyio.run(server.list_tools)
    recall = next(t for t in tools if t.name == "recall")
    assert list(recall.input_schema["properties"]) == ["query", *OPTIONS]
