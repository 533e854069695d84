"""Background consolidation: the server turns new episodes into facts on its own.

Apps run in-process with a 0.2 s interval over the hashed embedder (no model
to load); the tests poll with a generous deadline instead of sleeping, so a
loaded machine makes them slower, not flaky.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engramdb import ConsolidationReport, Memory, Settings
from engramdb.cli import app as cli_app
from engramdb.security.audit import SqliteAuditLog, audit_path
from engramdb.server.http import ServerOptions, create_app
from engramdb.server.schedule import SCHEDULER_ACTOR, ConsolidationSchedule
from engramdb.testing.fakes import HashEmbedder

EVERY_S = 0.2
DEADLINE_S = 20.0  # only reached when something is wrong
THREAD = "engramdb-consolidate"
TURNS = [
    {"text": "I live in Boston.", "speaker": "Maya"},
    {"text": "I work at Google.", "speaker": "Maya"},
]


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


@contextmanager
def serving(settings: Settings, memory: Memory) -> Iterator[TestClient]:
    """The app over ``memory``; on exit, its worker must be gone."""
    app = create_app(
        settings, memory=memory, options=ServerOptions(auth=False, mcp=False, rate_per_s=0.0)
    )
    with TestClient(app) as client:
        yield client
    assert workers() == []


def metric(client: TestClient, name: str) -> float | None:
    text = client.get("/metrics").text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Settings, Memory]]:
    settings = Settings(path=str(tmp_path / "store"), consolidate_every_s=EVERY_S)
    with Memory(settings=settings, embedder=HashEmbedder()) as memory:
        yield settings, memory


def test_the_server_consolidates_new_episodes_without_being_asked(
    store: tuple[Settings, Memory],
) -> None:
    settings, memory = store
    with serving(settings, memory) as client:
        added = client.post("/v1/namespaces/maya/engrams/batch", json={"items": TURNS})
        assert added.status_code == 201, added.text
        facts = wait_for(lambda: memory.facts(namespace="maya", attribute="employer"), "facts")
        assert [f.value for f in facts] == ["Google"]
        assert [f.value for f in memory.facts(namespace="maya", attribute="residence")] == [
            "Boston"
        ]
        wait_for(lambda: metric(client, "engramdb_consolidation_runs_total"), "a counted run")
        assert metric(client, "engramdb_consolidation_episodes_total") == 2
        assert metric(client, "engramdb_consolidation_facts_total") == len(
            memory.facts(namespace="maya")
        )
        assert metric(client, "engramdb_consolidation_failures_total") == 0
        assert metric(client, "engramdb_consolidation_interval_seconds") == EVERY_S
        last = metric(client, "engramdb_consolidation_last_run_timestamp_seconds")
        assert last is not None
        assert abs(last - time.time()) < 60
        assert memory.store.pending_count("maya") == 0


def test_scheduled_runs_are_audited_as_the_scheduler(store: tuple[Settings, Memory]) -> None:
    settings, memory = store
    where = audit_path(settings.path)
    assert where is not None
    with serving(settings, memory) as client:
        client.post("/v1/namespaces/maya/engrams/batch", json={"items": TURNS})
        log = SqliteAuditLog(where)
        try:
            entries = wait_for(
                lambda: [e for e in log.entries(namespace="maya") if e.actor == SCHEDULER_ACTOR],
                "an audit entry",
            )
        finally:
            log.close()
    assert [(e.action, e.status) for e in entries] == [("consolidate", 0)]
    count = entries[0].count
    assert count is not None
    assert count >= 2  # Boston and Google, at least


class FailsOnBroken(Memory):
    """A store whose namespace "broken" cannot be consolidated."""

    def consolidate(self, **kwargs: Any) -> ConsolidationReport:
        if kwargs.get("namespace") == "broken":
            raise RuntimeError("I live in Boston")  # memory text, which must not be logged
        return super().consolidate(**kwargs)


def test_a_failed_run_is_logged_without_content_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="engramdb.server.schedule")
    settings = Settings(path=":memory:", consolidate_every_s=EVERY_S)
    with FailsOnBroken(settings=settings, embedder=HashEmbedder()) as memory:
        memory.add("I live in Boston.", namespace="broken", speaker="Maya")
        memory.add("I work at Google.", namespace="fine", speaker="Maya")
        with serving(settings, memory) as client:
            # Two failures: the first one did not end the worker.
            wait_for(
                lambda: (metric(client, "engramdb_consolidation_failures_total") or 0) >= 2,
                "two failed runs",
            )
            assert memory.facts(namespace="fine")
            assert memory.store.pending_count("broken") == 1  # left for the next pass
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failed
    assert "'broken'" in failed[0].getMessage()
    assert "RuntimeError" in failed[0].getMessage()
    assert "Boston" not in caplog.text
    assert "Google" not in caplog.text


class StopsAfterOneBatch(Memory):
    """Calls ``schedule.stop()`` once the first batch of a run is committed."""

    schedule: ConsolidationSchedule

    def consolidate(self, **kwargs: Any) -> ConsolidationReport:
        progress = kwargs.pop("progress")

        def step(done: int, total: int) -> None:
            if done == 1:
                self.schedule.stop()
            progress(done, total)

        return super().consolidate(progress=step, **kwargs)


def test_stop_ends_a_run_in_progress_after_its_current_batch() -> None:
    settings = Settings(path=":memory:", consolidation_batch=1)
    with StopsAfterOneBatch(settings=settings, embedder=HashEmbedder()) as memory:
        # four episodes: the same two turns said again in another session (said again in
        # the same session at the same time they would be one experience each)
        memory.add_many(
            [{**turn, "session": session} for session in ("s1", "s2") for turn in TURNS],
            namespace="maya",
        )
        audited: list[Any] = []
        memory.schedule = ConsolidationSchedule(memory, 60.0, audit=audited.append)
        assert memory.schedule.run_pending() == []
        state = memory.schedule.state()
        assert (state.episodes, state.runs, state.failures) == (1, 0, 0)
        assert memory.store.pending_count("maya") == 3
        # What the committed batch wrote is audited, without a count (no report came).
        assert [(e.actor, e.namespace, e.count) for e in audited] == [
            (SCHEDULER_ACTOR, "maya", None)
        ]


def test_shutdown_stops_the_worker_without_waiting_for_the_interval() -> None:
    settings = Settings(path=":memory:", consolidate_every_s=3600.0)
    with Memory(settings=settings, embedder=HashEmbedder()) as memory:
        started = time.monotonic()
        with serving(settings, memory):
            assert len(workers()) == 1
        assert time.monotonic() - started < 10  # not an hour


def test_background_consolidation_is_off_unless_configured() -> None:
    assert Settings().consolidate_every_s == 0
    assert Settings.from_env({}).consolidate_every_s == 0
    env = {"ENGRAMDB_CONSOLIDATE_EVERY_S": "2.5"}
    assert Settings.from_env(env).consolidate_every_s == 2.5
    with pytest.raises(ValueError):
        Settings.from_env({"ENGRAMDB_CONSOLIDATE_EVERY_S": "soon"})
    settings = Settings(path=":memory:")
    with Memory(settings=settings, embedder=HashEmbedder()) as memory:
        memory.add("I live in Boston.", namespace="maya", speaker="Maya")
        with serving(settings, memory) as client:
            assert workers() == []
            assert "engramdb_consolidation" not in client.get("/metrics").text
        assert memory.store.pending_count("maya") == 1


@pytest.mark.parametrize("every_s", [-1.0, math.nan, math.inf])
def test_create_app_refuses_a_bad_interval(every_s: float) -> None:
    settings = Settings(path=":memory:", consolidate_every_s=every_s)
    with Memory(settings=settings, embedder=HashEmbedder()) as memory, pytest.raises(ValueError):
        create_app(settings, memory=memory, options=ServerOptions(auth=False, mcp=False))


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--consolidate-every", "-1"], {}), ([], {"ENGRAMDB_CONSOLIDATE_EVERY_S": "-1"})],
    ids=["option", "environment"],
)
def test_serve_refuses_a_negative_interval_in_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    result = CliRunner().invoke(cli_app, ["--store", str(tmp_path), "serve", *args], env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("engram: error: --consolidate-every")


def test_serve_consolidates_every_five_minutes_by_default() -> None:
    serve = typer.main.get_command(cli_app).commands["serve"]  # type: ignore[attr-defined]
    (option,) = [p for p in serve.params if p.name == "consolidate_every"]
    assert option.default == 300
    assert option.envvar == "ENGRAMDB_CONSOLIDATE_EVERY_S"


def test_a_pass_with_nothing_pending_runs_nothing() -> None:
    with Memory(":memory:", embedder=HashEmbedder()) as memory:
        memory.add("I live in Boston.", namespace="maya", speaker="Maya")
        memory.consolidate(namespace="maya")
        schedule = ConsolidationSchedule(memory, 60.0)
        assert schedule.run_pending() == []
        state = schedule.state()
        assert (state.passes, state.runs, state.episodes, state.last_run_at) == (1, 0, 0, None)
