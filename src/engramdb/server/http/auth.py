"""Who is asking, and may they: API-key authentication, scopes and rate limits.

``Authenticator.authenticate`` turns an ``Authorization: Bearer eng_...``
header into an ``ApiKey`` (401 when missing, malformed, unknown or revoked;
429 when its token bucket is empty). ``require`` checks a key's scope against a
namespace (403).

``KeyCheck``, an ASGI layer outside the body limit, authenticates every
request but those to a few open paths before anything reads its body, so a
caller without a valid key gets 401 whatever it sent (docs/server.md, "Order
of the checks"), and leaves the key on the request. The FastAPI dependencies
below take it from there for the routes (scopes, and the key id for the
audit trail), and ``McpGate`` hands it to the MCP tools, so the REST API and
MCP share one auth path.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from engramdb import Memory
from engramdb.security.keys import LOCAL_ADMIN, ApiKey, KeyRing
from engramdb.server.http.errors import HttpError, error_response
from engramdb.server.http.trail import KEY_ID_STATE
from engramdb.server.options import ServerOptions
from engramdb.server.ratelimit import RateLimiter

__all__ = [
    "AdminKey",
    "Authenticator",
    "CurrentKey",
    "KeyCheck",
    "McpGate",
    "MemoryDep",
    "ReadNamespace",
    "ServerState",
    "WriteNamespace",
    "require",
]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Where KeyCheck leaves the request's ApiKey, in the ASGI scope's "state".
_KEY_STATE = "engram_api_key"


class Authenticator:
    """Checks a request's API key and takes a token from its bucket."""

    def __init__(self, keys: KeyRing | None, limiter: RateLimiter, *, enabled: bool) -> None:
        if enabled and keys is None:
            raise ValueError("authentication needs a KeyRing")
        self.keys = keys
        self.limiter = limiter
        self.enabled = enabled

    def authenticate(self, authorization: str | None) -> ApiKey:
        if not self.enabled:
            return LOCAL_ADMIN
        assert self.keys is not None
        if not authorization:
            raise HttpError(
                401,
                "unauthorized",
                "an API key is required: send 'Authorization: Bearer eng_...' "
                "(create one with 'engram keys create')",
                _CHALLENGE,
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(
                401, "unauthorized", "use 'Authorization: Bearer <API key>'", _CHALLENGE
            )
        key = self.keys.verify(token)
        if key is None:
            raise HttpError(
                401, "unauthorized", "the API key is malformed, unknown or revoked", _CHALLENGE
            )
        wait_s = self.limiter.acquire(key.id)
        if wait_s > 0:
            raise HttpError(
                429,
                "rate_limited",
                f"API key {key.id} is over its rate limit of {self.limiter.rate_per_s:g} "
                f"requests/s (burst {self.limiter.burst}); retry in {wait_s:.2f} s",
                {"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
        return key


def require(key: ApiKey, namespace: str, need: Literal["read", "write"]) -> None:
    """403 unless ``key`` may ``need`` in ``namespace``; says nothing of what exists there."""
    if not key.allows(namespace, need):
        scope = ", ".join(key.namespaces) or "no namespace"
        raise HttpError(
            403,
            "forbidden",
            f"API key {key.id} ({key.access} on {scope}) may not {need} namespace {namespace!r}",
        )


@dataclass(frozen=True, slots=True)
class ServerState:
    """What the routes share, kept on ``app.state.engram``."""

    memory: Memory
    authenticator: Authenticator
    options: ServerOptions


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.engram
    return state


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An engramdb API key: `Authorization: Bearer eng_<id>_<secret>`.",
)


def _current_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKey:
    # _bearer only puts the scheme in the OpenAPI document; KeyCheck has read the header.
    key = _authenticated(request.scope, _state(request).authenticator)
    # for the audit trail (server.http.trail): who made this request
    setattr(request.state, KEY_ID_STATE, key.id)
    return key


def _memory(request: Request) -> Memory:
    return _state(request).memory


CurrentKey = Annotated[ApiKey, Depends(_current_key)]
MemoryDep = Annotated[Memory, Depends(_memory)]
# The library checks namespaces too (engramdb.validation); the pattern here documents the
# rule in the OpenAPI schema, so clients and fuzzers see it.
NamespacePath = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
        max_length=128,
        description="Letters, digits and . _ : @ -, starting with a letter or digit.",
    ),
]


def _readable(namespace: NamespacePath, key: CurrentKey) -> str:
    require(key, namespace, "read")
    return namespace


def _writable(namespace: NamespacePath, key: CurrentKey) -> str:
    require(key, namespace, "write")
    return namespace


def _admin(key: CurrentKey) -> ApiKey:
    if not key.is_admin:
        raise HttpError(403, "forbidden", f"API key {key.id} is not an admin key")
    return key


ReadNamespace = Annotated[str, Depends(_readable)]
WriteNamespace = Annotated[str, Depends(_writable)]
AdminKey = Annotated[ApiKey, Depends(_admin)]


def _authenticated(scope: Scope, authenticator: Authenticator) -> ApiKey:
    """The key ``KeyCheck`` found for this request; checked here if it has not run."""
    state: dict[str, Any] = scope.setdefault("state", {})
    key = state.get(_KEY_STATE)
    if not isinstance(key, ApiKey):
        # A route under an open path that asks for a key still gets one checked.
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = bytes(value).decode("latin-1")
                break
        key = authenticator.authenticate(header)
        state[_KEY_STATE] = key
    return key


class KeyCheck:
    """ASGI layer: 401 (or 429) unless the request has a valid key, before its body is read.

    ``open_paths`` (exact) and ``open_prefixes`` need no key. Every other path
    does, a path that names no route too: a caller without a key learns
    nothing from the answer, neither which routes exist nor what the server
    made of its body.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        open_paths: Collection[str],
        open_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = open_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._is_open(scope["path"]):
            try:
                _authenticated(scope, self.authenticator)
            except HttpError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)


class McpGate:
    """ASGI wrapper of the MCP endpoint: puts the request's key where the MCP tools look."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, state_name: str) -> None:
        self.app = app
        self.authenticator = authenticator
        self.state_name = state_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            key = _authenticated(scope, self.authenticator)
        except HttpError as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.headers)
            await response(scope, receive, send)
            return
        scope["state"][self.state_name] = key
        await self.app(scope, receive, send)
