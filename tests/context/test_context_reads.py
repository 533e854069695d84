"""A context reads the provenance and facts of what it shows, not the namespace's
(docs/context.md): the "(until DATE)" notes come out as they would from every fact."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb import Memory, Settings
from engramdb.model import Fact
from engramdb.recall import prompt
from engramdb.store.base import Link
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
SAID = [
    (0, "Maya", "I live in Boston and I love sushi."),
    (0, "Maya", "I work at Google. My partner is Alex."),
    (100, "Maya", "I just moved to Denver!"),
    (101, "Maya", "My new job at Stripe is great."),
    (200, "Maya", "I'm dating Sam now, Alex and I split up."),
    (250, "Maya", "I relocated to Seattle for a fresh start."),
    (250, "Tom", "Seattle is rainy but lovely."),
]


class EveryFactRefused(SqliteStore):
    """A real store that refuses the reads of a whole namespace's facts and links."""

    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        raise AssertionError("every fact of the namespace was read")

    def links(self, namespace: str) -> list[Link]:
        raise AssertionError("every link of the namespace was read")


def test_a_context_marks_what_ended_from_the_facts_of_what_it_shows(tmp_path: Path) -> None:
    store = EveryFactRefused(tmp_path / "s.db")
    settings = Settings(recall_pool=5, recall_exhaustive=5)  # two stages, as a large namespace
    with Memory(store=store, embedder=HashEmbedder(), settings=settings) as mem:
        mem.add_many(
            [
                {"text": text, "speaker": who, "session": f"s{d}", "occurred_at": T0 + timedelta(d)}
                for d, who, text in SAID
            ],
            namespace="u",
        )
        mem.consolidate(namespace="u", now=T0 + timedelta(days=300))
        bundle = mem.context("Did Maya live in Boston?", namespace="u", session="s250")
        assert any("(until" in item.text for item in bundle.items)
        every = SqliteStore.facts(store, "u")
        assert any(f.valid_to is not None for f in every)
        by_all = prompt.until_notes(every)
        for engram in store.iter_engrams("u"):
            stated = {k.derived_id for k in store.links_of("u", [engram.id])}
            some = prompt.until_notes(store.facts_of("u", [engram.id, *stated]))
            assert some.get(engram.id) == by_all.get(engram.id), engram.text
