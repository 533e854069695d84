"""The dashboard in a real browser: headless Chromium, driven by Playwright, against a
real ``engram serve`` on loopback over a store seeded with the packaged model.

Chromium is the system's (``/usr/bin/chromium``, Debian's package; ``CHROMIUM`` names
another): Playwright's own browser download is never used. Without Chromium or the
``ui-test`` extra these tests are skipped, each with its reason; under
``ENGRAMDB_REQUIRE_BROWSER=1`` (``.ci/run``'s browser stage) such a skip fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import Memory
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing, keys_path
from engramdb.testing.serve import ServeProcess

REQUIRE_BROWSER = os.environ.get("ENGRAMDB_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Where the screenshots the README shows are written (docs/dashboard.md).
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
NAMESPACE = "maya"
T0 = datetime(2024, 1, 8, 9, 0, tzinfo=timezone.utc)
# no background consolidation: the tests see only what they ask for
SERVE = ("serve", "--port", "0", "--rate-limit", "0", "--consolidate-every", "0")


def _refusal() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no Playwright: pip install 'engramdb[ui-test]'"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _refusal()
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if REQUIRE_BROWSER and report.skipped and item.get_closest_marker("browser") is not None:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under ENGRAMDB_REQUIRE_BROWSER=1: {reason}"


def conversation() -> list[dict[str, Any]]:
    """Maya over a year: she moves twice and changes jobs; Tom answers."""
    said = [
        (0, "s1", "Maya", "I live in Boston and I love sushi."),
        (0, "s1", "Tom", "Nice! What do you do these days?"),
        (0, "s1", "Maya", "I work at Google. My partner is Alex."),
        (0, "s1", "Tom", "Sounds like a good life."),
        (1, "s1", "Maya", "I adopted a rescue dog called Pastel, I'm so happy!"),
        (1, "s1", "Tom", "That is wonderful news."),
        (60, "s2", "Maya", "I just moved to Denver!"),
        (60, "s2", "Tom", "Wow, how is it?"),
        (61, "s2", "Maya", "My new job at Stripe is great."),
        (62, "s2", "Maya", "I was furious when the movers broke my desk."),
        (150, "s3", "Maya", "I'm scared about the surgery next week."),
        (150, "s3", "Tom", "You will be fine, I'm sure."),
        (240, "s4", "Maya", "I relocated to Seattle for a fresh start."),
        (240, "s4", "Tom", "Seattle is rainy but lovely."),
    ]
    return [
        {"text": text, "speaker": who, "session": session, "occurred_at": T0 + timedelta(days=d)}
        for d, session, who, text in said
    ]


@dataclass(frozen=True)
class Served:
    url: str
    admin: str
    writer: str  # write on NAMESPACE
    reader: str  # read on NAMESPACE


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("dashboard") / "store"
    with Memory(str(store), embedder=embedder) as mem:
        mem.add_many(conversation(), namespace=NAMESPACE, embed="now")
        mem.consolidate(namespace=NAMESPACE, now=T0 + timedelta(days=300))
        # a recall, so the retention curve has one to mark
        mem.search("Where does Maya live?", namespace=NAMESPACE, now=T0 + timedelta(days=280))
        mem.flush()
    with KeyRing(keys_path(str(store))) as ring:
        admin = ring.create(name="ops", namespaces=[], access="admin").token
        writer = ring.create(name="maya-app", namespaces=[NAMESPACE], access="write").token
        reader = ring.create(name="maya-viewer", namespaces=[NAMESPACE], access="read").token
    with ServeProcess.start(["--store", str(store), *SERVE]) as server:
        yield Served(server.url(), admin, writer, reader)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield opened
    context.close()
    # a refused request logs its status as a console error: those are expected here
    assert [e for e in errors if "status of 4" not in e] == []
