"""Fixtures for the CLI tests: a real store on disk and the real embedding model.

The session-wide ``embedder`` of ``tests/conftest.py`` is handed to every
``Memory`` the CLI opens (``State.memory``), so an invocation does not pay for
loading the model again; the subprocess tests load it the ordinary way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from engramdb import Memory
from engramdb.cli import app
from engramdb.cli.state import State
from engramdb.embed import Embedder

from .support import Invoke


@pytest.fixture(scope="session", autouse=True)
def _shared_embedder(embedder: Embedder) -> Iterator[None]:
    def memory(self: State) -> Memory:
        return Memory(settings=self.settings, embedder=embedder)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(State, "memory", memory)
        yield


def _invoker(store: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, ["--store", str(store), *args], input=input)

    return invoke


@pytest.fixture
def invoke(tmp_path: Path) -> Invoke:
    """Run ``engram --store <a fresh store> ...``."""
    return _invoker(tmp_path / "store")


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "store"


@pytest.fixture(scope="module")
def shared(module_store: Path) -> Invoke:
    """Run ``engram --store <one store per test module> ...``."""
    return _invoker(module_store)
