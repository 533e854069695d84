"""AuditTrail: an ASGI wrapper that appends one audit entry per mutating request.

It knows the mutating routes by method and path (a table below), and the key
from ``request.state`` (set by ``auth`` once a key is checked). It records the
verb, namespace, target id and status, never a body: memory content cannot
reach the audit log from here. Requests refused before a key was checked
(401) carry no key id and are not recorded; MCP tool calls are not audited yet.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engramdb.clock import SystemClock
from engramdb.server.audit import AuditRecord, SqliteAuditLog

__all__ = ["KEY_ID_STATE", "AuditTrail"]

KEY_ID_STATE = "engram_key_id"

_NS = r"/v1/namespaces/(?P<ns>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(_NS + r"/engrams/?$"), "add"),
    ("POST", re.compile(_NS + r"/engrams/batch$"), "add_many"),
    ("PATCH", re.compile(_NS + r"/engrams/(?P<id>[^/]+)$"), "update"),
    ("DELETE", re.compile(_NS + r"/engrams/(?P<id>[^/]+)$"), "delete"),
    ("DELETE", re.compile(_NS + r"/?$"), "forget_namespace"),
    ("POST", re.compile(_NS + r"/consolidate$"), "consolidate"),
)


class AuditTrail:
    def __init__(self, app: ASGIApp, log: SqliteAuditLog) -> None:
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
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            key_id = scope.get("state", {}).get(KEY_ID_STATE)
            if key_id is not None:
                verb, namespace, target = action
                self.log.append(
                    AuditRecord(
                        at=self.clock.now(),
                        actor=str(key_id),
                        action=verb,
                        namespace=namespace,
                        target=target,
                        status=status,
                    )
                )


def _action(method: str, path: str) -> tuple[str, str, str | None] | None:
    for want, pattern, verb in _ROUTES:
        if method == want:
            match = pattern.match(path)
            if match is not None:
                return verb, match.group("ns"), match.groupdict().get("id")
    return None
