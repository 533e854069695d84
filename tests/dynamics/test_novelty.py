"""Novelty at write time is judged for a whole batch at once (docs/dynamics.md, "Importance"):
the importance it gives must be the one the item-by-item computation gives, below
the ANN threshold (exact search) and above it (the HNSW graph)."""

from __future__ import annotations

import numpy as np
import pytest

from engramdb import Memory, Settings
from engramdb.dynamics import importance as importance_cues
from engramdb.dynamics.keeper import DynamicsKeeper, nearest_similarities
from engramdb.store.base import Store
from engramdb.testing.fakes import HashEmbedder
from engramdb.validation import NewMemory, check_item

PLACES = ["Lisbon", "Porto", "Kyoto", "Oslo", "Quito", "Dakar", "Hanoi", "Perth"]
FOODS = ["noodles", "tapas", "curry", "dumplings", "ceviche", "waffles"]


def _text(i: int) -> str:
    return (
        f"{PLACES[i % 8]} trip with Anna: we ate {FOODS[i % 6]} and "
        f"walked {i % 5 + 1} miles on day {i % 7}"
    )


def _stored(n: int) -> list[dict[str, object]]:
    return [{"text": _text(i), "session": f"s{i // 10}"} for i in range(n)]


def _batch() -> list[dict[str, object]]:
    """New memories: repeats of stored ones, repeats within the batch, one brand new,
    one whose importance is given (it takes no novelty but others compare with it)."""
    return [
        {"text": _text(3)},
        {"text": "Something else entirely: the boiler needs a new valve"},
        {"text": _text(3) + " again"},
        {"text": "Something else entirely: the boiler needs a new valve!"},
        {"text": "A first kayak lesson on the fjord", "importance": 0.9},
        {"text": "A first kayak lesson on the fjord, wet and cold"},
        {"text": _text(41)},
    ]


def _item_by_item(store: Store, namespace: str, vectors: np.ndarray) -> list[float]:
    """The computation this batched one replaced: one search per item, then a loop
    over the batch's earlier items."""
    out = []
    for i, vector in enumerate(vectors):
        found = store.vector_search(namespace, vector, 1)
        best = found[0].score if found else 0.0
        if i > 0:
            best = max(best, float(np.max(vectors[:i] @ vector)))
        out.append(best)
    return out


def _appraised(mem: Memory, namespace: str) -> tuple[list[NewMemory], np.ndarray]:
    now = mem._clock.now()
    items = [check_item(item, i, mem.settings.limits, now) for i, item in enumerate(_batch())]
    return items, mem.embedder.embed([m.text for m in items])


@pytest.mark.parametrize(("stored", "ann_threshold"), [(0, 20_000), (60, 20_000), (60, 40)])
def test_batch_importance_is_the_item_by_item_importance(
    location: str, stored: int, ann_threshold: int
) -> None:
    settings = Settings(path=location, ann_threshold=ann_threshold)
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        if stored:
            mem.add_many(_stored(stored), namespace="ns")
        assert mem.store.count("ns", 10_000) == stored
        items, vectors = _appraised(mem, "ns")
        keeper = DynamicsKeeper(mem.store, mem.embedder)

        expected_sims = _item_by_item(mem.store, "ns", vectors)
        sims = nearest_similarities(mem.store, "ns", vectors, [m.importance is None for m in items])
        wanted = [i for i, m in enumerate(items) if m.importance is None]
        assert [sims[i] for i in wanted] == pytest.approx(
            [expected_sims[i] for i in wanted], abs=1e-6
        )
        if stored:  # the repeats found what they repeat
            assert sims[0] > 0.99
            assert sims[2] > 0.8
        assert sims[3] > 0.9  # the batch's own earlier item
        assert sims[5] > 0.5  # an earlier item whose importance was given

        appraisals = keeper.tagger.appraise([m.text for m in items], vectors)
        expected = [
            m.importance
            if m.importance is not None
            else importance_cues.importance(
                importance_cues.cues(
                    m.text, nearest_similarity=sim, valence=a.valence, arousal=a.arousal
                )
            )
            for m, a, sim in zip(items, appraisals, expected_sims, strict=True)
        ]
        got = [initial.importance for initial in keeper.initial("ns", items, vectors)]
        assert got == pytest.approx(expected, abs=1e-6)


def test_a_batch_larger_than_a_block_compares_with_every_earlier_item(location: str) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1_100, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[1_050] = vectors[2]  # a repeat of an item 1,048 rows earlier, two blocks back
    with Memory(location, embedder=HashEmbedder()) as mem:
        sims = nearest_similarities(mem.store, "ns", vectors, [True] * len(vectors))
        expected = _item_by_item(mem.store, "ns", vectors)
    assert sims == pytest.approx(expected, abs=1e-6)
    assert sims[1_050] == pytest.approx(1.0, abs=1e-6)


def test_the_stores_default_nearest_scores_is_its_vector_search(location: str) -> None:
    """``Store.nearest_scores`` as a backend without an override answers it."""
    with Memory(location, embedder=HashEmbedder()) as mem:
        mem.add_many(_stored(30), namespace="ns")
        vectors = mem.embedder.embed([_text(4), "unrelated words here"])
        default = Store.nearest_scores(mem.store, "ns", vectors)
        assert default == pytest.approx(mem.store.nearest_scores("ns", vectors), abs=1e-6)
        assert Store.nearest_scores(mem.store, "empty", vectors).tolist() == [0.0, 0.0]
