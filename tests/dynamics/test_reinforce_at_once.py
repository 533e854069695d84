"""A recall is visible in this process at once; the store write stays batched
(docs/dynamics.md, "Reinforcement: visible at once, written in batches")."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engramdb import Memory
from engramdb.config import Settings
from engramdb.embed import Embedder

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(days=20)

FACTS = [
    "The teal notebook is in the study cupboard.",
    "My dentist appointment is on Thursday at ten.",
    "The spare house key hangs behind the garage door.",
    "Grandma's lasagne recipe uses three kinds of cheese.",
    "The wifi password is written on the fridge.",
    "Our cat Miso hates the vacuum cleaner.",
    "The car insurance renews every March.",
    "I keep the passport in the blue folder.",
    "The plumber's number is on the back of the calendar.",
    "My sister's birthday is on the ninth of June.",
    "The bike lock code is the year we met.",
    "The garden hose is coiled in the shed.",
    "The tax papers are in the bottom drawer of the desk.",
    "The teal scarf was a gift from Lisbon.",
]


@pytest.fixture(params=["exhaustive", "two-stage"])
def mem(request: pytest.FixtureRequest, embedder: Embedder) -> Memory:
    # a pool smaller than the namespace sends search through the two-stage path
    pool = 1_000 if request.param == "exhaustive" else 4
    settings = Settings(recall_pool=pool, recall_exhaustive=pool)
    return Memory(":memory:", embedder=embedder, settings=settings)


def test_get_shows_a_recall_before_the_flush(mem: Memory) -> None:
    first = mem.add(FACTS[0], occurred_at=T0)
    mem.add_many([{"text": t, "occurred_at": T0} for t in FACTS[1:]])
    [hit] = mem.search("teal notebook", now=LATER, limit=1)
    assert hit.engram.id == first.id
    seen = mem.get(first.id)  # nothing written yet: recall_flush_every is 64
    assert seen.recalls == 1
    assert seen.last_recalled_at == LATER
    assert seen.stability_days > first.stability_days
    assert mem.retention(first.id, now=LATER) == pytest.approx(1.0)
    assert mem.flush() == 1  # and the store write is still the batch's
    assert mem.get(first.id) == seen


def test_the_next_search_ranks_and_explains_with_the_recall(mem: Memory) -> None:
    first = mem.add(FACTS[0], occurred_at=T0)
    mem.add_many([{"text": t, "occurred_at": T0} for t in FACTS[1:]])
    mem.search("teal notebook", now=LATER, limit=1)
    reinforced = mem.get(first.id)
    next_day = LATER + timedelta(days=1)
    hits = mem.search("teal notebook", now=next_day, reinforce=False)
    [hit] = [h for h in hits if h.engram.id == first.id]
    assert hit.engram.recalls == 1
    assert hit.explain.stability_days == pytest.approx(reinforced.stability_days)
    assert hit.explain.retention == pytest.approx(mem.retention(first.id, now=next_day))
    assert hit.explain.stability_days > first.stability_days


def test_recalls_close_together_add_almost_nothing(mem: Memory) -> None:
    mem.add_many([{"text": t, "occurred_at": T0} for t in FACTS])
    first = [h.engram.id for h in mem.search("where is the teal notebook", now=LATER)]
    once = {i: mem.get(i).stability_days for i in first}
    again = [h.engram.id for h in mem.search("where is the teal notebook", now=LATER)]
    assert again == first  # the same top 10, in the same order
    soon = [
        h.engram.id
        for h in mem.search("where is the teal notebook", now=LATER + timedelta(minutes=1))
    ]
    assert soon == first
    for engram_id, stability in once.items():
        engram = mem.get(engram_id)
        assert engram.recalls == 3
        assert engram.stability_days == pytest.approx(stability, rel=1e-3)


def test_close_writes_what_is_queued(embedder: Embedder, tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    with Memory(path, embedder=embedder) as mem:
        e = mem.add(FACTS[0], occurred_at=T0)
        mem.search("teal notebook", now=LATER)
        seen = mem.get(e.id)
    with Memory(path, embedder=embedder) as again:
        assert again.get(e.id) == seen


def test_another_process_sees_a_recall_after_the_flush(embedder: Embedder, tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    with Memory(path, embedder=embedder) as writer, Memory(path, embedder=embedder) as reader:
        e = writer.add(FACTS[0], occurred_at=T0)
        writer.search("teal notebook", now=LATER)
        assert writer.get(e.id).recalls == 1
        assert reader.get(e.id).recalls == 0  # queued in the writer's process
        writer.flush()
        assert reader.get(e.id).recalls == 1


_SEARCH_THEN_WAIT = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from engramdb import Memory

    t0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
    mem = Memory(sys.argv[1])
    added = mem.add_many([{"text": t, "occurred_at": t0} for t in sys.argv[2:]])
    hits = mem.search("teal notebook", now=t0 + timedelta(days=20))
    assert mem.get(hits[0].engram.id).recalls == 1
    print(" ".join(e.id for e in added), flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def test_a_sigkill_loses_only_queued_reinforcement(embedder: Embedder, tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    child = subprocess.Popen(
        [sys.executable, "-c", _SEARCH_THEN_WAIT, path, *FACTS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ids = child.stdout.readline().split()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert len(ids) == len(FACTS)
    with Memory(path, embedder=embedder) as mem:
        assert [mem.get(i).text for i in ids] == FACTS  # every memory is intact
        assert all(mem.get(i).recalls == 0 for i in ids)  # the queued recalls are lost
        assert mem.store.check() == []
