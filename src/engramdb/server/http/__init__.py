"""The REST API (FastAPI): ``create_app(settings)``; see ``docs/server.md``."""

from engramdb.server.http.app import create_app
from engramdb.server.options import ServerOptions

__all__ = ["ServerOptions", "create_app"]
