"""Fixtures for the server tests: a real ``engram serve`` process, and in-process apps.

``live_server`` starts ``engram serve --port 0`` on 127.0.0.1 once per test
session (it loads the embedding model: a few seconds) with three keys minted
through the CLI: an admin key and two write keys on two namespaces.
``make_app`` builds the same FastAPI app in-process over a throwaway store and
the session's embedder, for the many small bad-input cases.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engramdb import Memory, Settings
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app
from engramdb.testing.serve import ENGRAM, ServeProcess


@dataclass(frozen=True)
class LiveServer:
    url: str
    store: Path
    admin: str  # token of an admin key
    alice: str  # write key on namespace "alice"
    bob: str  # write key on namespace "bob"

    def client(self, token: str | None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def engram(store: Path, *args: str) -> str:
    """Run the ``engram`` CLI on ``store``; its stdout."""
    done = subprocess.run(
        [*ENGRAM, "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def mint(store: Path, name: str, access: str, *namespaces: str) -> str:
    flags = [f"--namespace={n}" for n in namespaces]
    out = engram(store, "--json", "keys", "create", "--name", name, "--access", access, *flags)
    token: str = json.loads(out)["token"]
    return token


SERVE_OPTIONS = ("--port", "0", "--rate-limit", "0", "--consolidate-every", "0")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = tmp_path_factory.mktemp("served") / "store"
    admin = mint(store, "admin", "admin")
    alice = mint(store, "alice-app", "write", "alice")
    bob = mint(store, "bob-app", "write", "bob")
    # no background consolidation: tests see only what they ask for
    with ServeProcess.start(["--store", str(store), "serve", *SERVE_OPTIONS]) as server:
        yield LiveServer(url=server.url(), store=store, admin=admin, alice=alice, bob=bob)


@dataclass(frozen=True)
class AppKeys:
    admin: str
    alice: str  # write on "alice"
    bob: str  # write on "bob"
    reader: str  # read on "alice"
    team: str  # write on "team-*"


@pytest.fixture
def make_app(embedder: Embedder) -> Iterator[Callable[..., tuple[TestClient, Memory, AppKeys]]]:
    """Build an in-process app over a fresh ``:memory:`` store; returns (client, memory, keys)."""
    opened: list[tuple[TestClient, Memory, KeyRing]] = []

    def build(**options: object) -> tuple[TestClient, Memory, AppKeys]:
        memory = Memory(":memory:", embedder=embedder)
        ring = KeyRing(":memory:")
        keys = AppKeys(
            admin=ring.create(name="admin", namespaces=[], access="admin").token,
            alice=ring.create(name="alice", namespaces=["alice"], access="write").token,
            bob=ring.create(name="bob", namespaces=["bob"], access="write").token,
            reader=ring.create(name="reader", namespaces=["alice"], access="read").token,
            team=ring.create(name="team", namespaces=["team-*"], access="write").token,
        )
        settings = {"mcp": False, "rate_per_s": 0.0, **options}
        app: FastAPI = create_app(
            Settings(path=":memory:"),
            memory=memory,
            keys=ring,
            options=ServerOptions(**settings),  # type: ignore[arg-type]
        )
        client = TestClient(app, raise_server_exceptions=False).__enter__()
        opened.append((client, memory, ring))
        return client, memory, keys

    yield build
    for client, memory, ring in opened:
        client.__exit__(None, None, None)
        memory.close()
        ring.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
