"""The dashboard's files at /ui, and the two routes it added: /v1/server and /v1/audit
(docs/dashboard.md). The browser tests that drive it are in tests/ui."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli on 3.10
    import tomli as tomllib

import pytest
from fastapi.testclient import TestClient

import engramdb
from engramdb import EncryptionKey, Memory, Settings
from engramdb.dynamics.emotion import EMOTIONS
from engramdb.embed import Embedder
from engramdb.recall.features import SIGNALS
from engramdb.security.crypto import generate_key
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.ui import STATIC_DIR

from .conftest import AppKeys, bearer

ROOT = Path(__file__).parents[2]
# What a page or module names: <script src>, <link href>, import ... from "./x.js",
# new URL("./x.json", import.meta.url)
_REFERENCES = re.compile(
    r"""(?:src|href)="\{root\}(/ui/[^"]+)"|from "\./([^"]+)"|new URL\("\./([^"]+)", import"""
)


@pytest.fixture
def app(make_app: Callable[..., tuple[TestClient, Memory, AppKeys]]) -> tuple[TestClient, AppKeys]:
    client, _memory, keys = make_app()
    return client, keys


def _referenced() -> set[str]:
    found = set()
    for path in STATIC_DIR.iterdir():
        if path.suffix in {".html", ".js"}:
            for match in _REFERENCES.finditer(path.read_text(encoding="utf-8")):
                absolute, imported, fetched = match.groups()
                found.add(absolute or "/ui/static/" + (imported or fetched))
    return found


def test_the_dashboard_and_every_file_it_loads_are_served_without_a_key(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, _keys = app
    page = client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    referenced = _referenced()
    assert {"/ui/static/app.js", "/ui/static/style.css", "/ui/static/signals.json"} <= referenced
    for url in sorted(referenced):
        assert client.get(url).status_code == 200, url
    # every file is referenced: nothing dead ships
    served = {u.rsplit("/", 1)[1] for u in referenced} | {"index.html"}  # the page at /ui
    assert {p.name for p in STATIC_DIR.iterdir()} == served


def test_behind_a_prefix_the_page_loads_its_files_and_the_api_under_it(
    app: tuple[TestClient, AppKeys],
) -> None:
    client, _keys = app
    behind = TestClient(client.app, root_path="/memory")
    page = behind.get("/ui").text
    assert '<meta name="engramdb-root" content="/memory">' in page
    assert 'src="/memory/ui/static/app.js"' in page
    assert "{root}" not in page


def test_no_file_of_the_dashboard_reaches_for_another_host() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        # the SVG namespace is a name, not a request
        urls = set(re.findall(r"https?://[^\s\"'<>)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert urls == set(), path.name


def test_the_api_behind_the_dashboard_still_needs_a_key(app: tuple[TestClient, AppKeys]) -> None:
    client, _keys = app
    assert client.get("/v1/server").status_code == 401
    assert client.get("/ui/../v1/stats").status_code in {401, 404}
    assert client.get("/ui/static/../../v1/stats").status_code in {401, 404}


def test_the_dashboard_files_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["engramdb"]
    package = Path(engramdb.__file__).parent
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert sorted(p for p in STATIC_DIR.iterdir() if p not in shipped) == []


def test_the_server_route_names_the_key_and_the_store(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    answer = client.get("/v1/server", headers=bearer(keys.reader))
    assert answer.status_code == 200
    body = answer.json()
    assert body["key"]["access"] == "read"
    assert body["key"]["namespaces"] == ["alice"]
    assert body["key"]["name"] == "reader"
    assert body["encrypted"] is False
    assert body["consolidation"]["every_s"] == 0.0
    assert client.get("/v1/server", headers=bearer(keys.admin)).json()["key"]["namespaces"] == ["*"]


def test_the_audit_log_is_for_admin_keys_only(app: tuple[TestClient, AppKeys]) -> None:
    client, keys = app
    refused = client.get("/v1/audit", headers=bearer(keys.alice))
    assert refused.status_code == 403
    assert "not an admin key" in refused.json()["error"]["message"]
    # an in-memory store keeps no audit log: a 404 that says so, not a 500
    missing = client.get("/v1/audit", headers=bearer(keys.admin))
    assert missing.status_code == 404
    assert "no audit log" in missing.json()["error"]["message"]
    bad = client.get("/v1/audit", params={"limit": 0}, headers=bearer(keys.admin))
    assert bad.status_code == 422


def test_the_audit_log_lists_newest_first_by_namespace_and_limit(
    location: str, embedder: Embedder
) -> None:
    """On each store: SQLite keeps the log in a file beside it, PostgreSQL in a table."""
    with Memory(location, embedder=embedder) as memory, KeyRing(":memory:") as ring:
        admin = ring.create(name="admin", namespaces=[], access="admin").token
        alice = ring.create(name="alice", namespaces=["alice"], access="write").token
        app = create_app(
            Settings(path=location),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        with TestClient(app) as client:
            added = client.post(
                "/v1/namespaces/alice/engrams", json={"text": "audited one"}, headers=bearer(alice)
            ).json()
            client.delete(f"/v1/namespaces/alice/engrams/{added['id']}", headers=bearer(alice))
            client.post("/v1/namespaces/bob/engrams", json={"text": "b"}, headers=bearer(admin))
            every = client.get(
                "/v1/audit", params={"namespace": "alice"}, headers=bearer(admin)
            ).json()
            one = client.get(
                "/v1/audit", params={"namespace": "alice", "limit": 1}, headers=bearer(admin)
            ).json()
            everyone = client.get("/v1/audit", headers=bearer(admin)).json()
    assert [e["action"] for e in every["entries"]] == ["delete", "add"]
    assert every["entries"][0]["target"] == added["id"]
    assert every["entries"][0]["status"] == 200
    assert {e["namespace"] for e in every["entries"]} == {"alice"}
    assert every["more"] is False
    assert one["entries"] == every["entries"][:1]
    assert one["more"] is True
    assert everyone["entries"][0]["namespace"] == "bob"
    assert "audited one" not in str(everyone)  # never content


def test_the_server_route_says_an_encrypted_store_is_encrypted(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "store"
    settings = Settings(path=str(store), encryption=EncryptionKey.from_text(generate_key()))
    with Memory(settings=settings, embedder=embedder) as memory, KeyRing(":memory:") as ring:
        token = ring.create(name="viewer", namespaces=["maya"], access="read").token
        app = create_app(
            settings, memory=memory, keys=ring, options=ServerOptions(mcp=False, rate_per_s=0.0)
        )
        with TestClient(app) as client:
            answer = client.get("/v1/server", headers=bearer(token)).json()
    assert answer["encrypted"] is True
    assert answer["key"] == {
        "id": answer["key"]["id"],
        "name": "viewer",
        "access": "read",
        "namespaces": ["maya"],
    }


def test_a_server_without_keys_answers_the_dashboard_without_one(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, _keys = make_app(auth=False)
    answer = client.get("/v1/server")
    assert answer.status_code == 200
    assert answer.json()["key"]["access"] == "admin"


def test_every_signal_of_the_ranker_has_words_a_newcomer_understands() -> None:
    table = json.loads((STATIC_DIR / "signals.json").read_text(encoding="utf-8"))
    assert set(table) == set(SIGNALS)
    for signal, entry in table.items():
        assert entry["words"], signal
        assert "_" not in entry["words"], signal
        assert entry["group"] in {
            "meaning",
            "words",
            "who",
            "conversation",
            "time",
            "form",
            "strength",
            "feeling",
            "knowledge",
        }, signal


def test_the_dashboard_colours_every_emotion_label() -> None:
    script = (STATIC_DIR / "pages.js").read_text(encoding="utf-8")
    table = re.search(r"const EMOTION_COLOURS = \{(.*?)\};", script, re.DOTALL)
    assert table is not None
    assert set(re.findall(r"(\w+): \"#", table.group(1))) == set(EMOTIONS)
