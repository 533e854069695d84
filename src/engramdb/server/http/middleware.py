"""The ASGI layers around every route: the body-size limit and the request metrics.

``BodyLimit`` refuses a body over ``max_body_bytes`` with 413, whether its
``Content-Length`` says so up front or the stream turns out longer (chunked
uploads, or a length that lies); it reads the body before the route does, so
a refused request reaches no route and writes nothing. It runs after the key
check (``auth.KeyCheck``): a caller without a valid key never gets this far.
``RequestMetrics`` counts requests by route template and status and times
them, those refused before routing (401, 429, 413) by the route they were for;
the status is ``StatusSend``'s, as the audit trail's is.
"""

from __future__ import annotations

import re
import time

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engramdb.server.http.errors import error_response
from engramdb.server.http.metrics import Metrics

__all__ = ["BodyLimit", "RequestMetrics", "StatusSend"]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await error_response(400, "bad_request", "Content-Length is not a number")(
                scope, receive, send
            )
            return
        if declared > self.max_body_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is over the limit of {self.max_body_bytes} bytes"
        await error_response(413, "payload_too_large", message, {"Connection": "close"})(
            scope, receive, send
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return 0


class StatusSend:
    """An ASGI ``send`` that notes the status of the response it starts: 500 until one
    starts (an app that raised sent none)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self.send(message)


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = StatusSend(send)
        try:
            await self.app(scope, receive, sent)
        finally:
            self.metrics.observe(
                scope.get("method", "GET"),
                self._template(scope),
                sent.status,
                time.perf_counter() - started,
            )

    def _template(self, scope: Scope) -> str:
        """The template of the route that served, or would have served, the request."""
        template = getattr(scope.get("route"), "path", None)
        if template:
            return str(template)
        # Refused before routing (401, 429, 413), or no route: the OpenAPI paths are
        # the route templates.
        app = scope.get("app")
        if self._templates is None and isinstance(app, FastAPI):
            self._templates = [
                (compile_path(path)[0], path, frozenset(m.upper() for m in operations))
                for path, operations in app.openapi()["paths"].items()
            ]
        for pattern, path, methods in self._templates or ():
            if scope.get("method") in methods and pattern.match(scope["path"]):
                return path
        return "unmatched"
