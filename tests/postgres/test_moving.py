"""Moving a store between SQLite and PostgreSQL with ``engram export`` and ``engram
import`` loses nothing (docs/scaling.md, "Moving between stores"): history, facts,
provenance, consumed marks and dynamics of a consolidated namespace come back as
they left, there and back again; between encrypted stores too (docs/security.md),
each opening with the master key the environment gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb import EncryptionKey, Memory, Settings
from engramdb.cli import app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.security.crypto import generate_key

from .conftest import located

T0 = datetime(2024, 3, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def location(postgres_url: str, schema: str) -> str:
    return located(postgres_url, schema)


@pytest.fixture
def cli(embedder: Embedder) -> Iterator[CliRunner]:
    def memory(self: State) -> Memory:
        return Memory(settings=self.settings, embedder=embedder)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(State, "memory", memory)
        yield CliRunner()


def _consolidated(
    path: Path, embedder: Embedder, key: EncryptionKey | None
) -> list[dict[str, object]]:
    """A SQLite store with a consolidated namespace: versions, facts that supersede
    each other, a summary with its sources, recalls; its export."""
    with Memory(str(path), embedder=embedder, settings=Settings(encryption=key)) as mem:
        assert mem.encrypted == (key is not None)
        turns = [
            ("I live in Boston with my dog Pastel.", "s1"),
            ("My favourite food is ramen.", "s1"),
            ("I moved to Denver last month.", "s2"),
            ("Pastel is a greyhound, she loves the park.", "s2"),
        ]
        added = [
            mem.add(text, namespace="u", session=session, speaker="Maya",
                    occurred_at=T0 + timedelta(days=i), metadata={"turn": i})
            for i, (text, session) in enumerate(turns)
        ]  # fmt: skip
        mem.update(added[1].id, text="My favourite food is pho.", namespace="u")
        assert mem.consolidate(namespace="u").facts > 0
        mem.search("Where does Maya live?", namespace="u", now=T0 + timedelta(days=30))
        mem.add("A note elsewhere.", namespace="other", occurred_at=T0)
        mem.flush()
        exported = list(mem.export())
    assert any("fact" in record for record in exported)
    assert any(record.get("sources") for record in exported)
    return exported


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
def test_export_import_between_sqlite_and_postgresql_is_lossless(
    cli: CliRunner,
    embedder: Embedder,
    location: str,
    tmp_path: Path,
    encrypted: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = None
    if encrypted:
        secret = generate_key()
        monkeypatch.setenv("ENGRAMDB_MASTER_KEY", secret)
        key = EncryptionKey.from_text(secret)
    original = _consolidated(tmp_path / "first", embedder, key)
    exported = tmp_path / "first.jsonl"
    done = cli.invoke(app, ["--store", str(tmp_path / "first"), "export", "--out", str(exported)])
    assert done.exit_code == 0, done.output
    assert _lines(exported.read_text(encoding="utf-8")) == original

    done = cli.invoke(app, ["--store", location, "import", str(exported)])
    assert done.exit_code == 0, done.output
    there = cli.invoke(app, ["--store", location, "export"])
    assert there.exit_code == 0, there.output
    assert _lines(there.stdout) == original

    again = tmp_path / "there.jsonl"
    again.write_text(there.stdout, encoding="utf-8")
    done = cli.invoke(app, ["--store", str(tmp_path / "back"), "import", str(again)])
    assert done.exit_code == 0, done.output
    back = cli.invoke(app, ["--store", str(tmp_path / "back"), "export"])
    assert _lines(back.stdout) == original
    # and the moved store goes on working: recall, and consolidation where it stopped
    with Memory(location, embedder=embedder, settings=Settings(encryption=key)) as mem:
        assert mem.encrypted == encrypted
        assert mem.check() == []
        assert mem.search("Which city does Maya live in now?", namespace="u")
        assert mem.consolidate(namespace="u").episodes == 0
