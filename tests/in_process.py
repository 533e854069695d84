"""An ``engramdb.Client`` on an app in this process: its requests go through a
``TestClient`` instead of a socket (the server's tests and the surface tests of each
feature use it)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient


class InProcess(httpx.BaseTransport):
    """Sends the Client's requests through the in-process app."""

    def __init__(self, app: TestClient) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.app.request(
            request.method,
            request.url.raw_path.decode(),
            content=request.read(),
            headers=dict(request.headers),
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
