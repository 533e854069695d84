"""The dashboard, driven in headless Chromium against a real server (docs/dashboard.md).

One person's path through it: sign in with a key, search and read why a hit came
back, open a memory with its history and retention, edit it, see the facts as of
a date, delete a memory and see its derived facts go, and a read key refused an
edit. The screenshots of docs/ui/ are taken here, at 1280x800.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from engramdb.recall.features import SIGNALS

from .conftest import NAMESPACE, SHOTS, Served, conversation


def api_client(served: Served, token: str) -> httpx.Client:
    return httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"})


def sign_in(page: Any, served: Served, token: str) -> None:
    page.goto(served.url + "/ui")
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Namespaces", level=1).wait_for()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def open_memory(page: Any, served: Served, words: str) -> None:
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}/search")
    page.get_by_label("Question or words").fill(words)
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("li.hit .hit-title a", has_text=words).first.click()
    page.get_by_role("heading", name="Memory", level=1).wait_for()


def test_a_key_signs_in_and_a_search_explains_its_hits_in_words(page: Any, served: Served) -> None:
    page.goto(served.url + "/ui")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.evaluate(_UNNAMED) == []
    shot(page, "sign-in")
    sign_in(page, served, served.reader)
    assert page.get_by_role("link", name=NAMESPACE, exact=True).is_visible()
    assert "read key" in page.locator("#who").inner_text().lower()
    page.get_by_role("link", name=NAMESPACE, exact=True).click()
    page.get_by_role("heading", name=re.compile("^Namespace")).wait_for()
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Question or words").fill("What is the name of Maya's dog?")
    page.get_by_role("button", name="Search", exact=True).click()
    first = page.locator("li.hit").first
    first.wait_for()
    assert "Pastel" in first.locator(".hit-title").inner_text()
    assert re.search(r"relevance \d+%", first.inner_text())
    reasons = first.locator("ul.reasons li").all_inner_texts()
    assert reasons
    assert all(re.match(r"\d+% — \w", r) for r in reasons)
    text = page.locator("ol.hits").inner_text()
    for signal in SIGNALS:  # internal names never reach the page
        if "_" in signal:
            assert signal not in text
    assert first.locator("svg[role=img]").get_attribute("aria-label").startswith("Why it came back")
    shot(page, "search")


def test_a_memory_shows_its_history_and_a_write_key_edits_it(page: Any, served: Served) -> None:
    sign_in(page, served, served.writer)
    open_memory(page, served, "rescue dog called Pastel")
    main = page.locator("main")
    for heading in ("Around it in its session", "Provenance", "Version history", "Retention"):
        assert main.get_by_role("heading", name=heading).is_visible(), heading
    turns = main.locator("ol.session li").all_inner_texts()
    assert turns[-3:] == [
        "Tom: Sounds like a good life.",
        "Maya: I adopted a rescue dog called Pastel, I'm so happy! (this memory)",
        "Tom: That is wonderful news.",
    ]
    assert page.locator("svg[aria-label^='Retention of this memory']").is_visible()
    page.get_by_label("Text").fill("I adopted a rescue dog called Pastel, a little terrier.")
    page.get_by_role("button", name="Save a new version").click()
    history = page.get_by_role("table", name="Every version with its validity interval")
    history.get_by_text("a little terrier").wait_for()
    rows = history.locator("tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert "now (current)" in rows[1]
    assert "now (current)" not in rows[0]
    shot(page, "memory")
    main.get_by_role("heading", name="Version history").evaluate("h => h.scrollIntoView()")
    shot(page, "memory-history")


def test_the_facts_as_of_a_date_are_what_was_true_then(page: Any, served: Served) -> None:
    sign_in(page, served, served.reader)
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}/facts")
    table = page.locator("main table")
    table.wait_for()
    assert "superseded" in table.inner_text()
    page.get_by_label("As of (what was true on this date)").fill("2024-05-01")
    page.get_by_text("What was true on 2024-05-01").wait_for()
    then = page.locator("main table").inner_text()
    assert "Denver" in then
    assert "Seattle" not in then
    assert "Boston" not in then
    shot(page, "facts")


def test_a_read_key_is_refused_an_edit_and_says_so(page: Any, served: Served) -> None:
    sign_in(page, served, served.reader)
    open_memory(page, served, "furious when the movers broke my desk")
    page.get_by_label("Text").fill("changed by a reader")
    page.get_by_role("button", name="Save a new version").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Refused" in alert.inner_text()
    assert "may not write" in alert.inner_text()
    assert (
        page.get_by_role("table", name="Every version with its validity interval")
        .locator("tbody tr")
        .count()
        == 1
    )


def test_a_delete_names_and_takes_its_derived_facts(page: Any, served: Served) -> None:
    sign_in(page, served, served.writer)
    open_memory(page, served, "I relocated to Seattle for a fresh start")
    engram_id = page.url.rsplit("/", 1)[1]
    with api_client(served, served.writer) as api:
        facts = api.get(f"/v1/namespaces/{NAMESPACE}/facts").json()["facts"]
    gone = {engram_id}  # a fact goes as soon as any one of its sources goes, transitively
    while grown := {f["engram_id"] for f in facts if gone & set(f["sources"])} - gone:
        gone |= grown
    derived = [f for f in facts if f["engram_id"] in gone]
    assert derived, "the seeded store has a fact learned from this memory"
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    for fact in derived:
        assert fact["text"] in dialog.inner_text()
    assert "summary" not in dialog.inner_text()  # its session, s4, has none
    shot(page, "delete")
    dialog.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", name=re.compile("^Facts of")).wait_for()
    page.locator("main table").wait_for()
    for fact in derived:  # its row, linked to the fact's memory, is gone from the table
        assert page.locator(f"main table a[href$='/memory/{fact['engram_id']}']").count() == 0
    assert page.locator("main table tbody tr").count() == len(facts) - len(derived)
    with api_client(served, served.writer) as api:
        assert api.get(f"/v1/namespaces/{NAMESPACE}/engrams/{engram_id}").status_code == 404
        for fact in derived:
            gone = api.get(f"/v1/namespaces/{NAMESPACE}/engrams/{fact['engram_id']}")
            assert gone.status_code == 404


def test_a_delete_names_the_summary_of_its_session(page: Any, served: Served) -> None:
    sign_in(page, served, served.reader)
    open_memory(page, served, "I live in Boston and I love sushi.")
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("The summary of session s1 goes too").wait_for()
    assert "Session s1 (2024-01-08)" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_role("dialog").count() == 0


def test_an_admin_sees_the_overview_consolidation_and_audit_log(page: Any, served: Served) -> None:
    sign_in(page, served, served.admin)
    shot(page, "namespaces")
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}")
    page.get_by_role("heading", name=re.compile("^Namespace")).wait_for()
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}/consolidation")
    page.get_by_role("button", name="Run consolidation now").click()
    page.get_by_role("heading", name="This run").wait_for()
    page.get_by_role("table", name="Consolidation runs, newest first").wait_for()
    shot(page, "consolidation")
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}/timeline")
    page.get_by_role("heading", name=re.compile("^Timeline")).wait_for()
    page.locator("#timeline-results[aria-busy=false]").wait_for()
    shot(page, "timeline")
    page.get_by_label("Words or meaning").fill("moved")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#timeline-results[aria-busy=false]").wait_for()
    found = page.locator("main table").inner_text()
    assert "I just moved to Denver!" in found
    assert "Sounds like a good life." not in found
    page.goto(f"{served.url}/ui#/audit")
    table = page.get_by_role("table")
    table.wait_for()
    assert "consolidate" in table.inner_text()
    shot(page, "audit")


def test_forgetting_a_namespace_asks_for_its_name_typed(page: Any, served: Served) -> None:
    with api_client(served, served.admin) as api:
        made = api.post("/v1/namespaces/scratch/engrams", json={"text": "to be forgotten"})
        assert made.status_code == 201
    sign_in(page, served, served.admin)
    page.goto(f"{served.url}/ui#/ns/scratch")
    page.get_by_role("button", name="Forget this namespace…").click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Forget the namespace")
    assert confirm.is_disabled()
    dialog.get_by_label("Type scratch to confirm").fill("scratc")
    assert confirm.is_disabled()
    dialog.get_by_label("Type scratch to confirm").fill("scratch")
    confirm.click()
    page.get_by_text("Forgot scratch: 1 memory erased.").wait_for()
    assert page.get_by_role("link", name="scratch", exact=True).count() == 0
    with api_client(served, served.admin) as api:
        assert "scratch" not in api.get("/v1/namespaces").json()["namespaces"]


def test_the_timeline_lists_memories_newest_first_and_filters_them(
    page: Any, served: Served
) -> None:
    sign_in(page, served, served.reader)
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}/timeline")
    rows = page.locator("main table tbody tr")
    page.locator("#timeline-results[aria-busy=false]").wait_for()
    when = [r.split("\t")[0] for r in rows.all_inner_texts()]
    assert len(when) > len(conversation())  # episodes, facts and summaries
    assert when == sorted(when, reverse=True)
    page.get_by_label("Speaker").fill("Tom")
    page.get_by_label("Kind").select_option("episode")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#timeline-results[aria-busy=false]").wait_for()
    toms = [r.split("\t") for r in rows.all_inner_texts()]
    said = [c for c in conversation() if c["speaker"] == "Tom"]
    assert len(toms) == len(said)
    assert {(kind, speaker) for _, kind, speaker, *_ in toms} == {("episode", "Tom")}


def test_the_overview_draws_growth_and_the_emotion_map(page: Any, served: Served) -> None:
    sign_in(page, served, served.reader)
    page.goto(f"{served.url}/ui#/ns/{NAMESPACE}")
    emotions = page.locator("svg[aria-label^='Valence by arousal']")
    emotions.wait_for()
    episodes = page.locator("dl.figures dd").nth(1).inner_text()
    assert emotions.locator("circle").count() == int(episodes)
    assert page.locator("svg[aria-label^='Memories per month']").locator("rect").count() >= 1
    shot(page, "overview")
    page.get_by_role("heading", name=re.compile("^Emotion map")).evaluate("h => h.scrollIntoView()")
    shot(page, "emotion-map")


def test_a_write_key_is_refused_the_audit_log(page: Any, served: Served) -> None:
    sign_in(page, served, served.writer)
    page.goto(f"{served.url}/ui#/audit")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not an admin key" in alert.inner_text()


PAGES = [
    "#/",
    f"#/ns/{NAMESPACE}",
    f"#/ns/{NAMESPACE}/timeline",
    f"#/ns/{NAMESPACE}/search",
    f"#/ns/{NAMESPACE}/facts",
    f"#/ns/{NAMESPACE}/consolidation",
    f"#/ns/{NAMESPACE}/memory/",  # the first memory a search finds
    "#/audit",
]


# Every control's accessible name, as far as a test can compute it without a screen reader.
_UNNAMED = """() => [...document.querySelectorAll('a[href], button, input, select, textarea')]
  .filter((el) => {
    if (el.closest('[hidden]')) return false;
    const named = (el.getAttribute('aria-label') || '').trim()
      || (el.labels && [...el.labels].some((l) => l.textContent.trim()))
      || (['A', 'BUTTON'].includes(el.tagName) && el.textContent.trim())
      || (el.getAttribute('title') || '').trim();
    return !named;
  }).map((el) => el.outerHTML.slice(0, 120))"""
_ACTIONS = """() => [...document.querySelectorAll('a[href], button, input, select, textarea')]
  .filter((el) => !el.disabled && !el.closest('[hidden]') && el.getClientRects().length)
  .map((el) => el.outerHTML.slice(0, 160))"""


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_headings_named_controls_and_tab_reaches_every_action(
    page: Any, served: Served, path: str
) -> None:
    sign_in(page, served, served.admin)
    if path.endswith("/memory/"):
        with api_client(served, served.admin) as api:
            found = api.post(
                f"/v1/namespaces/{NAMESPACE}/search", json={"query": "dog", "reinforce": False}
            )
            path += found.json()["hits"][0]["engram"]["id"]
    page.goto(f"{served.url}/ui{path}")
    page.locator("main h1").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.locator("main h1").count() == 1
    assert page.evaluate(_UNNAMED) == []
    actions = set(page.evaluate(_ACTIONS))
    reached: set[str] = set()
    page.locator("body").focus()
    for _ in range(len(actions) * 2 + 5):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement.outerHTML.slice(0, 160)"))
    assert actions - reached == set()
