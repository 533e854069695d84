"""``JsonErrorsH11``: uvicorn's HTTP/1.1 protocol, with its own refusals in the API's shape.

uvicorn refuses a request it cannot parse (a non-numeric ``Content-Length``, a
malformed request line) before the application sees it, with a plain-text 400.
This protocol answers those as every other error is answered:
``{"error": {"code": "bad_request", "message": ...}}`` (docs/server.md, "Errors").
It changes nothing else; ``engram serve`` runs uvicorn with it.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["JsonErrorsH11"]


class JsonErrorsH11(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        message = msg or "the request is not valid HTTP/1.1"
        body = json.dumps({"error": {"code": "bad_request", "message": message}}).encode()
        # Written whole, past h11's state machine: the connection is in error and closes.
        head = (
            b"HTTP/1.1 400 Bad Request\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()
