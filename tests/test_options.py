"""Every surface offers every option of ``Memory``, read from one definition (``options``).

For each operation of ``engramdb.options``: ``Memory``'s keyword options are exactly
the defined ones (a new ``Memory`` option fails here until it is defined), and the
CLI command, the HTTP route (OpenAPI), the MCP tool and ``Client`` each offer every
option, save those the definition leaves out of that surface with a reason. Every
public member of ``Memory`` is on ``Client`` or in ``LOCAL_ONLY`` with its reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import anyio
import click
import pytest
import typer

from engramdb import AsyncClient, AsyncMemory, Client, Memory, Settings
from engramdb.cli import app as cli_app
from engramdb.options import LOCAL_ONLY, OPERATIONS, SURFACES, Operation, Surface
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.mcp import build_mcp

IDS = [op.name for op in OPERATIONS]
# The namespace is the one option whose text differs by surface on purpose: the CLI's
# overrides a global one, MCP's defaults to the server's, HTTP's is a path segment.
SHARED_HELP = "namespace"


def _keywords(function: Any) -> dict[str, Any]:
    """A method's keyword-only parameters (the options), name to default."""
    params = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_left_out(op: Operation, surface: Surface, offered: set[str]) -> None:
    """What the definition leaves out of a surface has a reason, and is indeed left out."""
    for name, reason in op.left_out(surface).items():
        assert reason.strip(), f"{op.name}({name}) is left out of {surface} without a reason"
        assert name not in offered, f"{surface} offers {op.name}({name}), left out: {reason}"


@pytest.fixture(scope="module")
def openapi() -> Iterator[dict[str, Any]]:
    with Memory(":memory:") as memory, KeyRing(":memory:") as ring:
        app = create_app(
            Settings(path=":memory:"), memory=memory, keys=ring, options=ServerOptions(mcp=False)
        )
        yield app.openapi()


@pytest.fixture(scope="module")
def mcp_tools() -> Iterator[dict[str, Any]]:
    with Memory(":memory:") as memory:
        tools = anyio.run(build_mcp(memory).list_tools)
        yield {t.name: t.input_schema for t in tools}


CLI = typer.main.get_command(cli_app)


def _cli_params(op: Operation) -> dict[str, click.Parameter]:
    commands: dict[str, click.Command] = getattr(CLI, "commands", {})
    assert op.command in commands, f"engram has no {op.command!r} command"
    return {flag: p for p in commands[op.command].params for flag in p.opts}


@pytest.mark.parametrize("memory", [Memory, AsyncMemory], ids=lambda c: c.__name__)
@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_memory_takes_exactly_the_defined_options(op: Operation, memory: type) -> None:
    defined = {o.name: o.default for o in op.options}
    assert _keywords(getattr(memory, op.name)) == defined
    assert list(_keywords(getattr(memory, op.name))) == list(defined), "same order"


@pytest.mark.parametrize("client", [Client, AsyncClient], ids=lambda c: c.__name__)
@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_client_takes_every_option_it_does_not_leave_out(op: Operation, client: type) -> None:
    offered = _keywords(getattr(client, op.name))
    assert offered == {o.name: o.default for o in op.on("client")}
    _check_left_out(op, "client", set(offered))


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_cli_command_takes_every_option_it_does_not_leave_out(op: Operation) -> None:
    params = _cli_params(op)
    for option in op.on("cli"):
        for flag in option.cli_flags:
            assert flag in params, f"engram {op.command} has no {flag} ({op.name}: {option.name})"
        if option.name != SHARED_HELP and len(option.cli_flags) == 1:
            shown = getattr(params[option.cli_flags[0]], "help", None) or ""
            assert shown.startswith(option.help), f"engram {op.command} {option.cli_flags[0]}"
    _check_left_out(op, "cli", {o.name for o in op.options if set(o.cli_flags) & set(params)})


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The properties of a request body schema, through ``$ref`` and ``anyOf`` (optional)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(spec["components"]["schemas"][name], spec)
    found: dict[str, Any] = dict(schema.get("properties", {}))
    for choice in schema.get("anyOf", []):
        found |= _resolve(choice, spec)
    return found


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_http_route_takes_every_option_it_does_not_leave_out(
    op: Operation, openapi: dict[str, Any]
) -> None:
    method, path = op.route
    assert path in openapi["paths"], f"no route {path}"
    route = openapi["paths"][path].get(method.lower())
    assert route is not None, f"no {method} {path}"
    # An option travels in the path (the namespace), the query string, or the body.
    described = {p["name"]: p.get("description", "") for p in route.get("parameters", [])}
    body = route.get("requestBody", {}).get("content", {}).get("application/json", {})
    described |= {
        name: prop.get("description", "")
        for name, prop in _resolve(body.get("schema", {}), openapi).items()
    }
    for option in op.on("http"):
        assert option.name in described, f"{method} {path} does not take {option.name}"
        if option.name != SHARED_HELP:
            assert described[option.name] == option.help, f"{method} {path}: {option.name}"
    _check_left_out(op, "http", set(described))


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_the_mcp_tool_takes_every_option_it_does_not_leave_out(
    op: Operation, mcp_tools: dict[str, Any]
) -> None:
    assert op.tool in mcp_tools, f"no MCP tool {op.tool!r}"
    properties = mcp_tools[op.tool]["properties"]
    for option in op.on("mcp"):
        assert option.name in properties, f"MCP {op.tool} does not take {option.name}"
        if option.name != SHARED_HELP:
            assert properties[option.name].get("description") == option.help, option.name
    _check_left_out(op, "mcp", set(properties))


def test_every_surface_is_named_in_the_definition() -> None:
    assert set(SURFACES) == {"cli", "http", "mcp", "client"}
    for op in OPERATIONS:
        for option in op.options:
            assert option.help.strip(), f"{op.name}({option.name}) has no help text"
            assert set(option.left_out) <= set(SURFACES), (op.name, option.name)


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_member_of_memory_is_on_the_client_or_local_only_with_a_reason() -> None:
    memory, client = _public(Memory), _public(Client)
    assert memory - client == set(LOCAL_ONLY), "on neither Client nor LOCAL_ONLY (or both)"
    assert all(reason.strip() for reason in LOCAL_ONLY.values())
    assert client - memory == set(), "a Client method Memory lacks"


@pytest.mark.parametrize(
    "name", sorted((_public(Memory) - set(LOCAL_ONLY)) | {"__enter__", "__exit__"})
)
def test_client_methods_take_what_memory_methods_take(name: str) -> None:
    """Same parameters, kinds and defaults, save the options the definition leaves out."""
    ours, theirs = getattr(Client, name), getattr(Memory, name)
    if not callable(theirs):
        return
    left_out = {o for op in OPERATIONS if op.name == name for o in op.left_out("client")}
    params = inspect.signature(theirs).parameters.values()
    assert [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()] == [
        (p.name, p.kind, p.default) for p in params if p.name not in left_out
    ]
