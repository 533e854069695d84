"""The dashboard, ``/ui``: hand-written HTML, JavaScript modules and CSS, served from the package.

``install_ui`` adds ``/ui`` (the page) and ``/ui/static/`` (its files) to the
app. No build step and no CDN: every file the page loads is under ``static/``
and ships in the wheel (``pyproject.toml``'s package-data). The page and its
files hold no data and need no key; the page asks for one and sends it with
every call to the REST API, which enforces its scope as for any client
(docs/dashboard.md). ``static/signals.json`` is the one table of the ranker's
signals in plain words. It owns no route of the API.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "UI_OPEN_PATHS", "UI_OPEN_PREFIXES", "UI_URL", "install_ui"]

UI_URL = "/ui"
STATIC_DIR = Path(__file__).parent / "static"
#: The page and its files need no key (``auth.KeyCheck``): they hold no data.
UI_OPEN_PATHS = frozenset({UI_URL, UI_URL + "/"})
UI_OPEN_PREFIXES = (UI_URL + "/static/",)

# The page talks to this server only: scripts, styles and requests from its own origin.
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def install_ui(app: FastAPI) -> None:
    """Add ``/ui`` and ``/ui/static/`` to ``app``."""

    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @app.get(UI_URL, include_in_schema=False)
    @app.get(UI_URL + "/", include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        # Behind a proxy that mounts the server under a prefix, as the docs page does.
        root = escape(str(request.scope.get("root_path", "")).rstrip("/"), quote=True)
        return HTMLResponse(page.replace("{root}", root), headers=_HEADERS)

    app.mount(UI_URL + "/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
