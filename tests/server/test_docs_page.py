"""The docs page at /docs works offline: every file it loads comes from the server itself.

docs/server.md, "Routes": the page, its files and /openapi.json need no key.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli on 3.10
    import tomli as tomllib

import pytest
from fastapi.testclient import TestClient

import engramdb
from engramdb import Memory

from .conftest import AppKeys, LiveServer

ROOT = Path(__file__).parents[2]
ASSETS = Path(engramdb.__file__).parent / "server" / "http" / "static" / "swagger-ui"
# What each kind of file must be, and at least how big: a real Swagger UI, not a stub.
KINDS = {
    "script": (("text/javascript", "application/javascript"), 500_000),
    "stylesheet": (("text/css",), 50_000),
    "icon": (("image/png",), 100),
}


class _Assets(HTMLParser):
    """Every URL the page loads: <script src>, <link href>, <img src>, and the spec's url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (kind, url)
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "script":
            self._in_script = "src" not in found
            if "src" in found:
                self.urls.append(("script", found["src"]))
        elif tag == "link" and "href" in found:
            rel = found.get("rel", "")
            self.urls.append(("icon" if "icon" in rel else "stylesheet", found["href"]))
        elif "src" in found or "href" in found:
            self.urls.append((tag, found.get("src") or found.get("href", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)


def _page(client: TestClient) -> _Assets:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(response.text)
    return parser


@pytest.fixture
def client(make_app: Callable[..., tuple[TestClient, Memory, AppKeys]]) -> TestClient:
    client, _memory, _keys = make_app()
    return client


def test_every_file_the_docs_page_loads_is_served_here_without_a_key(client: TestClient) -> None:
    page = _page(client)
    kinds = sorted(kind for kind, _ in page.urls)
    assert kinds == ["icon", "script", "stylesheet"], page.urls
    for kind, url in page.urls:
        absolute = urljoin("http://testserver/docs", url)
        assert urlsplit(absolute).netloc == "testserver", url  # no CDN, no other host
        response = client.get(url)  # no Authorization header
        assert response.status_code == 200, url
        types, min_bytes = KINDS[kind]
        assert response.headers["content-type"].split(";")[0] in types, (url, response.headers)
        assert len(response.content) >= min_bytes, url


def test_the_docs_page_renders_the_document_this_server_serves(client: TestClient) -> None:
    page = _page(client)
    script = "".join(page.inline)
    urls = re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", script)
    assert urls == ["/openapi.json"]
    schema = client.get(urls[0])
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "engramdb"
    # nothing in the page's own script reaches for another host
    assert not re.search(r"https?://", script)
    assert '"validatorUrl": null' in script


def test_redoc_is_not_served(client: TestClient) -> None:
    # FastAPI's /redoc would load ReDoc from a CDN
    assert client.get("/redoc").status_code == 401  # no route: the key check answers first


def test_the_vendored_files_are_the_ones_their_readme_names() -> None:
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    assert set(pinned) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    for name, digest in pinned.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (ASSETS / "LICENSE").read_text(encoding="utf-8")


def test_the_vendored_files_are_package_data() -> None:
    # what puts them in the wheel: pyproject.toml's [tool.setuptools.package-data]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["engramdb"]
    package = Path(engramdb.__file__).parent
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert sorted(p for p in ASSETS.iterdir() if p not in shipped) == []


def test_the_served_docs_page_loads_only_from_the_server(live_server: LiveServer) -> None:
    with live_server.client(None) as http:
        page = _Assets()
        page.feed(http.get("/docs").text)
        assert page.urls
        for _kind, url in page.urls:
            assert not urlsplit(url).netloc, url
            assert http.get(url).status_code == 200, url
