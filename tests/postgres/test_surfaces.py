"""A ``postgresql://`` location everywhere a store path is accepted (docs/scaling.md):
``engram --store URL``, ``ENGRAMDB_STORE``, ``engram serve``; API keys and the audit
log in the store's schema; the password never shown.

The CLI runs in-process with the session's embedder (``typer``'s runner over the real
``engram`` app) and as a real process; the server is a real ``engram serve``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner, Result

from engramdb import Memory, Settings
from engramdb.cli import app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.testing.serve import ENGRAM, ServeProcess

from .conftest import located


@pytest.fixture
def location(postgres_url: str, schema: str) -> str:
    """A PostgreSQL store location (a schema of its own), dropped afterwards."""
    return located(postgres_url, schema)


@pytest.fixture
def password(postgres_url: str) -> str:
    secret = urlsplit(postgres_url).password
    if not secret:
        pytest.skip("ENGRAMDB_TEST_POSTGRES has no password to keep out of sight")
    return secret


@pytest.fixture
def cli(embedder: Embedder, location: str) -> Iterator[CliRunner]:
    def memory(self: State) -> Memory:
        return Memory(settings=self.settings, embedder=embedder)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(State, "memory", memory)
        yield CliRunner()


def _engram(runner: CliRunner, location: str, *args: str) -> Result:
    return runner.invoke(app, ["--store", location, *args])


def test_the_cli_works_on_a_postgresql_store_and_never_shows_the_password(
    cli: CliRunner, location: str, password: str
) -> None:
    said: list[str] = []

    def run(*args: str) -> Result:
        result = _engram(cli, location, *args)
        said.append(result.output)
        assert result.exit_code == 0, result.output
        return result

    added = json.loads(run("--json", "add", "-n", "u", "My dog Pastel is a greyhound.").output)
    run("add", "-n", "u", "The weather in Lisbon was sunny.")
    found = json.loads(run("--json", "search", "-n", "u", "What breed is the dog?").output)
    assert found["hits"][0]["engram"]["id"] == added["id"]
    assert "2 memories" in run("stats", "-n", "u").output
    token = json.loads(
        run("--json", "keys", "create", "--name", "ops", "--access", "admin").output
    )["token"]
    assert token.startswith("eng_")
    assert "ops" in run("keys", "list").output
    # the audit log is a table of the store's schema: the CLI's adds are in it
    entries = json.loads(run("--json", "audit", "-n", "u").output)["entries"]
    assert [(e["actor"], e["action"]) for e in entries] == [("local", "add"), ("local", "add")]
    assert run("check").output.strip().endswith("ok")
    assert not any(password in text for text in said)


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (("backup", "copy.db"), "pg_dump"),
        (("restore", "__file__"), "pg_restore"),
        (("verify-erasure", "Pastel"), "VACUUM FULL"),
        (("check", "--repair"), "pg_dump"),
    ],
)
def test_a_command_on_sqlite_files_names_the_postgresql_way(
    cli: CliRunner, location: str, password: str, command: tuple[str, ...], named: str
) -> None:
    args = [__file__ if arg == "__file__" else arg for arg in command]
    result = _engram(cli, location, *args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert password not in result.output
    assert not Path("copy.db").exists()


def test_settings_and_their_repr_hide_the_password(location: str, password: str) -> None:
    settings = Settings.from_env({"ENGRAMDB_STORE": location})
    assert settings.path == location
    assert password not in repr(settings)
    assert Settings.from_env({"ENGRAMDB_PATH": location}).path == location
    with pytest.raises(ValueError, match="ENGRAMDB_STORE and ENGRAMDB_PATH"):
        Settings.from_env({"ENGRAMDB_STORE": location, "ENGRAMDB_PATH": "./elsewhere"})


def test_servers_on_one_database_share_keys_and_the_audit_log(
    cli: CliRunner, location: str, password: str
) -> None:
    # ENGRAMDB_STORE names the store for the real process, as an operator would set it
    env = {**os.environ, "ENGRAMDB_STORE": location, "PYTHONUNBUFFERED": "1"}
    env.pop("ENGRAMDB_PATH", None)
    made = subprocess.run(
        [*ENGRAM, "--json", "keys", "create", "--name", "app", "--access", "write", "-n", "u"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    token = json.loads(made.stdout)["token"]
    key_id = token.split("_")[1]
    with ServeProcess.start(
        ["serve", "--port", "0", "--rate-limit", "0", "--consolidate-every", "0"], env=env
    ) as server:
        url = server.url(timeout_s=300)  # the model loads: slow on a busy machine
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            added = http.post("/v1/namespaces/u/engrams", json={"text": "Pastel likes the sea."})
            assert added.status_code == 201, added.text
            hits = http.post("/v1/namespaces/u/search", json={"query": "What does Pastel like?"})
            assert hits.json()["hits"][0]["engram"]["id"] == added.json()["id"]
            # a key revoked elsewhere (here: the CLI) is refused at the next request
            assert _engram(cli, location, "keys", "revoke", key_id).exit_code == 0
            assert http.post("/v1/namespaces/u/search", json={"query": "sea"}).status_code == 401
        said = server.stop(timeout_s=60)
    entries = json.loads(_engram(cli, location, "--json", "audit", "-n", "u").output)["entries"]
    assert ("add", key_id, 201) in {(e["action"], e["actor"], e["status"]) for e in entries}
    assert location.split("?")[0].replace(password, "***") in said  # the store it serves
    assert password not in said + made.stderr


def test_import_no_wait_leaves_the_vectors_pending_for_the_next_open(
    cli: CliRunner, location: str, embedder: Embedder, tmp_path: Path
) -> None:
    # docs/write-path.md: the command writes without vectors and returns; the store keeps
    # them pending, found by their words, until a process that embeds opens it
    lines = [
        "My dog Pastel is a greyhound.",
        "The weather in Lisbon was sunny.",
        "We booked a cabin by the lake for August.",
    ]
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"text": line}) + "\n" for line in lines))
    result = _engram(cli, location, "--json", "import", "--no-wait", "-n", "u", str(notes))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 3
    with Memory(location, read_only=True) as reader:
        assert reader.stats(namespace="u").pending_vectors == 3
        hits = reader.search("greyhound", namespace="u", reinforce=False)
        assert hits[0].engram.text == lines[0]
        assert hits[0].explain.without_vector
    with Memory(location, embedder=embedder) as mem:
        mem.flush()  # the background embedder started at open
        assert mem.stats(namespace="u").pending_vectors == 0
        hits = mem.search("holiday house near water", namespace="u", reinforce=False)
        assert hits[0].engram.text == lines[2]
        assert not hits[0].explain.without_vector
        assert mem.check() == []
