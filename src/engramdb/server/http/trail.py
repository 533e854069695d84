"""AuditTrail: an ASGI wrapper that appends one audit entry per mutating request.

It knows the mutating routes by method and path (a table below), and the key
from ``request.state`` (set by ``auth`` once a key is checked). It records the
verb, namespace, target id and status, never a body: memory content cannot
reach the audit log from here, nor text sent in the path where a namespace or
an id belongs (``id_or_none``, ``namespace_or_none``).

A request refused with 401 (no key, or a malformed, unknown or revoked one) on
a mutating route or on ``/mcp`` is recorded too, one entry per request, as the
key id the header claims (only the id part of a well-formed token, never the
token) or ``"unknown"``. An authenticated ``/mcp`` request is left to the MCP
tools, which audit each memory-changing call (``server.mcp.tools``).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from engramdb.clock import SystemClock
from engramdb.security.audit import (
    UNKNOWN_ACTOR,
    AuditLog,
    AuditRecord,
    id_or_none,
    namespace_or_none,
)
from engramdb.server.http.middleware import StatusSend

__all__ = ["KEY_ID_STATE", "MCP_ACTION", "AuditTrail", "claimed_key_id"]

KEY_ID_STATE = "engram_key_id"
#: The action of a refused ``/mcp`` request: the body (which tool) is not read.
MCP_ACTION = "mcp"

_NS = r"/v1/namespaces/(?P<ns>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(_NS + r"/engrams/?$"), "add"),
    ("POST", re.compile(_NS + r"/engrams/batch$"), "add_many"),
    ("PATCH", re.compile(_NS + r"/engrams/(?P<id>[^/]+)$"), "update"),
    ("DELETE", re.compile(_NS + r"/engrams/(?P<id>[^/]+)$"), "delete"),
    ("DELETE", re.compile(_NS + r"/?$"), "forget_namespace"),
    ("POST", re.compile(_NS + r"/delete-where$"), "delete_where"),
    ("PUT", re.compile(_NS + r"/engrams/(?P<id>[^/]+)/expiry$"), "set_expiry"),
    ("PUT", re.compile(_NS + r"/ttl$"), "set_ttl"),
    ("POST", re.compile(_NS + r"/purge$"), "purge"),
    ("POST", re.compile(r"/v1/purge$"), "purge"),  # every namespace the key may write
    ("POST", re.compile(_NS + r"/consolidate$"), "consolidate"),
    ("POST", re.compile(_NS + r"/experiences$"), "record_experience"),
    ("POST", re.compile(_NS + r"/concepts$"), "teach"),
    ("PUT", re.compile(_NS + r"/budget$"), "set_budget"),
    ("POST", re.compile(_NS + r"/fade$"), "fade"),
    ("POST", re.compile(_NS + r"/feedback$"), "feedback"),
    ("DELETE", re.compile(_NS + r"/weights$"), "reset_weights"),
    ("PUT", re.compile(_NS + r"/profile/[^/]+$"), "pin"),  # the key is content: left out
    ("DELETE", re.compile(_NS + r"/profile/[^/]+$"), "unpin"),
    ("POST", re.compile(r"/v1/flush$"), "flush"),  # every namespace's queued recalls
)
_MCP_PATH = re.compile(r"/mcp/?$")
# The shape of a token (``engram keys create``, ``security.keys``): its id is public
# (``engram keys list`` shows it), its secret is never kept anywhere.
_CLAIMED = re.compile(r"(?i:bearer)\s+eng_([0-9a-f]{12})_[0-9a-f]{48}\s*")


class AuditTrail:
    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log
        self.clock = SystemClock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        action = _action(scope["method"], scope["path"])
        if action is None:
            await self.app(scope, receive, send)
            return
        sent = StatusSend(send)
        try:
            await self.app(scope, receive, sent)
        finally:
            status = sent.status
            actor = scope.get("state", {}).get(KEY_ID_STATE)
            if actor is None and status == 401:
                actor = claimed_key_id(_header(scope, b"authorization")) or UNKNOWN_ACTOR
            if actor is not None:
                verb, namespace, target = action
                self.log.append(
                    AuditRecord(
                        at=self.clock.now(),
                        actor=str(actor),
                        action=verb,
                        namespace=namespace,
                        target=target,
                        status=status,
                    )
                )


def claimed_key_id(authorization: str | None) -> str | None:
    """The key id in a well-formed ``Bearer eng_<id>_<secret>`` header, checked or not."""
    if authorization is None:
        return None
    match = _CLAIMED.fullmatch(authorization)
    return None if match is None else match.group(1)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _action(method: str, path: str) -> tuple[str, str | None, str | None] | None:
    if _MCP_PATH.match(path):
        # Only its 401s reach the log from here: an authenticated request sets no
        # KEY_ID_STATE (McpGate keeps the key elsewhere) and its tools audit themselves.
        return MCP_ACTION, None, None
    for want, pattern, verb in _ROUTES:
        if method == want:
            match = pattern.match(path)
            if match is not None:
                # Before validation: a path segment that is no namespace or id is left out.
                namespace = namespace_or_none(match.groupdict().get("ns"))
                return verb, namespace, id_or_none(match.groupdict().get("id"))
    return None
