"""The API docs page, ``/docs``: Swagger UI served by the server itself, so it works offline.

FastAPI's own page loads Swagger UI from a CDN and is blank on a machine
without internet access; this one loads the copy shipped in the package
(``static/swagger-ui/``: swagger-ui-dist, Apache-2.0, its licence beside it)
from ``/docs/static/``. Its online validator is off, so the page makes no
request beyond this server. ``/redoc`` is not served. The page and its files
need no API key, like ``/openapi.json`` (``OPEN_PATHS``, checked by
``auth.KeyCheck``). It does not own the OpenAPI document: FastAPI makes that.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_URL", "OPENAPI_URL", "OPEN_PATHS", "OPEN_PREFIXES", "STATIC_URL", "install_docs"]

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
OPENAPI_URL = "/openapi.json"
#: What needs no key: liveness, the API's description and the page that renders it.
OPEN_PATHS = frozenset({"/healthz", OPENAPI_URL, DOCS_URL})
OPEN_PREFIXES = (STATIC_URL + "/",)

_ASSETS = Path(__file__).parent / "static" / "swagger-ui"


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` and its files to ``app``, made with ``docs_url=None, redoc_url=None``."""
    if app.docs_url is not None or app.redoc_url is not None or app.openapi_url != OPENAPI_URL:
        raise ValueError("install_docs needs an app without FastAPI's own docs pages")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        # Behind a proxy that mounts the API under a prefix, as FastAPI's own page does.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} {app.version}: API docs",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon-32x32.png",
            # The validator badge would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.mount(STATIC_URL, StaticFiles(directory=_ASSETS), name="docs-static")
