"""The REST API (FastAPI): ``create_app(settings)``; see ``docs/server.md``."""

from engramdb.server.http.app import create_app
from engramdb.server.http.protocol import JsonErrorsH11
from engramdb.server.options import ServerOptions

__all__ = ["JsonErrorsH11", "ServerOptions", "create_app"]
