"""Fit the attention ranker's weights on LoCoMo dev, with conversation-level CV.

For every question, engramdb's own signals (``engramdb.recall.features``) are
computed for every turn of its conversation; a linear model over them is fitted
with a listwise softmax loss (the target spreads evidence mass evenly over the
evidence turns), as the ranker's softmax attention is. Cross-validation fits on
four conversations and tests on the fifth.

    python bench/ranker_fit.py --write src/engramdb/recall/weights.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory
from engramdb.dynamics.retention import MAX_STABILITY_DAYS, MIN_STABILITY_DAYS
from engramdb.formats import locomo
from engramdb.recall.engine import SearchRequest
from engramdb.recall.features import SIGNALS, Query, signals
from engramdb.recall.ranker import SALIENCE, salience_prior

#: Signal groups for the ablation table (BENCHMARKS.md): each is removed in turn.
GROUPS = {
    "lexical windows": ("lexical_window", "lexical_before", "lexical_after", "lexical_wide"),
    "dense windows": ("dense_window", "dense_before", "dense_after"),
    "speaker": ("speaker", "speaker_other"),
    "neighbours": ("neighbour_dense", "neighbour_lexical"),
    "session": ("session_dense", "session_dense_mean", "session_lexical", "session_bm25"),
    "time": ("time_mention", "time_expression"),
    "priors": ("is_question", "length"),
}
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"
# Signals LoCoMo cannot teach (its questions name no time windows): weights set by hand.
# Memory dynamics (docs/dynamics.md): LoCoMo asks about old trivia as often as about what
# mattered, so it cannot teach salience. Salience is not fitted with relevance but
# weighs after it, as a prior (recall.ranker.salience_prior, docs/recall.md
# "Salience"): its strength makes a memory's prior odds proportional to its
# stability up to a year, ln(365 / 0.40255) = 6.81 logits from the weakest new
# memory to a year's; it fades to nothing SALIENCE_BAND logits below the best match,
# the band chosen on bench/salience.py (seed 3) with LoCoMo's Recall@10 held.
# emotion_match is zero unless a search asks for mood-congruent recall.
SALIENCE_BAND = 8.0
DYNAMICS = {
    SALIENCE: float(np.log(MAX_STABILITY_DAYS / MIN_STABILITY_DAYS)),
    "emotion_match": 1.0,
}
# context-conditioned recall (docs/context.md): LoCoMo questions come without a conversation
# around them, so the weight of the context's cosine is set by hand from
# bench/context.py's follow-up questions (docs/context.md).
CONTEXT = {"context_dense": 1.0}
# consolidation (docs/consolidation.md): LoCoMo's questions ask for no changed values, so the
# weights of the fact and summary keys and of a fact's validity are set by hand
# from bench/updates.py, checked on LoCoMo with and without consolidation there.
CONSOLIDATION = {
    "fact": 2.0,
    "fact_change": 20.0,
    "fact_outdated": -10.0,
    "summary": 1.0,
    "validity": 3.0,
}
# recognition (docs/recall.md, "Recognition"): LoCoMo's questions never say a turn again,
# so it cannot teach how much a query that repeats a memory should count. Set to the
# salience band: a memory the query fully repeats gains as much as the band within which
# salience may reorder, so a better-held twin of a recognised memory cannot pass it
# (bench/scale.py's near-verbatim probes among templated twins).
RECOGNITION = {"recognition": SALIENCE_BAND}
HAND_SET = {"time_window": 0.5} | DYNAMICS | CONTEXT | CONSOLIDATION | RECOGNITION


@dataclass
class Sample:
    conversation: int
    category: int
    ids: list[str]  # dia_id per row
    evidence: list[str]
    matrix: np.ndarray  # (rows, signals)
    offset: np.ndarray | None = None  # (rows,): what the hand-set signals add
    prior: np.ndarray | None = None  # (rows,): salience times its strength, before fading


def questions(conv: locomo.Conversation) -> list[locomo.Question]:
    return [q for q in conv.questions if q.category != 5 and q.evidence]


def collect(
    mem: Memory,
    conversations: Sequence[locomo.Conversation],
    names: Sequence[str],
    hand: dict[str, float] | None = None,
    *,
    pooled: bool = False,
) -> list[Sample]:
    """Signals for every (question, turn) pair; the memory must hold the conversations.

    ``pooled``: for every (question, candidate) pair instead, the candidates
    the recaller's two-stage path ranks (its ``pool`` must be set below the
    conversation's size; docs/recall.md)."""
    recaller = mem._recall()  # the benchmark reads the engine's own signals
    samples: list[Sample] = []
    for ci, conv in enumerate(conversations):
        view = recaller.view(conv.sample_id)
        engrams = {e.id: e for e in mem.store.iter_engrams(conv.sample_id)}
        ids = [str(engrams[i].metadata["dia_id"]) for i in view.catalog.ids]
        qs = questions(conv)
        vectors = mem.embedder.embed([q.question for q in qs])
        for q, vector in zip(qs, vectors, strict=True):
            if pooled:
                request = SearchRequest(q.question, conv.sample_id, 20, conv.last_session_at)
                view, feats = recaller.score(request)
                ids = [str(engrams[i].metadata["dia_id"]) for i in view.catalog.ids]
            else:
                query = Query.parse(q.question, vector, conv.last_session_at)
                feats = signals(query, view, (view.catalog.vectors @ vector).astype(np.float64))
            matrix = np.stack([feats[name] for name in names], axis=1)
            weights = HAND_SET if hand is None else hand
            offset = sum(
                (w * feats[name] for name, w in weights.items() if name != SALIENCE),
                np.zeros(len(ids)),
            )
            prior = weights.get(SALIENCE, 0.0) * feats[SALIENCE]
            samples.append(Sample(ci, q.category, ids, list(q.evidence), matrix, offset, prior))
    return samples


def fit(
    samples: Sequence[Sample], names: Sequence[str], *, l2: float = 1e-3, iters: int = 500
) -> dict[str, float]:
    """Listwise softmax regression (Adam), on standardised features."""
    # a candidate pool may miss every evidence turn: nothing to learn from it
    samples = [s for s in samples if set(s.evidence) & set(s.ids)]
    stacked = np.concatenate([s.matrix for s in samples])
    scale = stacked.std(axis=0) + 1e-6
    xs = [s.matrix / scale for s in samples]
    offsets = [np.zeros(len(s.ids)) if s.offset is None else s.offset for s in samples]
    ys = []
    for s in samples:
        y = np.array([1.0 if i in set(s.evidence) else 0.0 for i in s.ids])
        ys.append(y / y.sum())
    w = np.zeros(len(names))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, iters + 1):
        grad = np.zeros_like(w)
        for x, y, offset in zip(xs, ys, offsets, strict=True):
            z = x @ w + offset
            z -= z.max()
            p = np.exp(z)
            p /= p.sum()
            grad += (p - y) @ x
        grad = grad / len(xs) + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    raw = w / scale
    return {name: float(raw[i]) for i, name in enumerate(names)}


def rank(sample: Sample, weights: dict[str, float], names: Sequence[str], k: int = 20) -> list[str]:
    """Relevance (fitted weights and hand-set offset), then the salience prior, as
    the shipped ranker orders them (recall.ranker)."""
    w = np.array([weights.get(name, 0.0) for name in names])
    offset = 0.0 if sample.offset is None else sample.offset
    score = sample.matrix @ w + offset
    if sample.prior is not None:
        score = score + salience_prior(score, sample.prior, SALIENCE_BAND)
    order = np.argsort(-score, kind="stable")[:k]
    return [sample.ids[i] for i in order]


def cross_validated(
    samples: Sequence[Sample], names: Sequence[str], folds: int
) -> tuple[list[list[str]], list[dict[str, float]]]:
    """Rankings of each question by weights fitted without its conversation."""
    rankings: list[list[str] | None] = [None] * len(samples)
    fitted = []
    for fold in range(folds):
        train = [s for s in samples if s.conversation != fold]
        weights = fit(train, names)
        fitted.append(weights)
        for i, s in enumerate(samples):
            if s.conversation == fold:
                rankings[i] = rank(s, weights, names)
    return [r or [] for r in rankings], fitted


def ablation(
    samples: Sequence[Sample],
    names: Sequence[str],
    evidence: Sequence[Sequence[str]],
    categories: Sequence[int],
    folds: int,
    out: Path,
) -> None:
    """Cross-validated Recall@10 per category with each signal group removed."""
    from metrics import score_run

    rows: dict[str, dict[str, float]] = {}
    configs = {"all signals": list(names)}
    configs |= {
        f"without {g}": [n for n in names if n not in members] for g, members in GROUPS.items()
    }
    configs["dense + lexical only"] = ["dense", "lexical"]
    for label, kept in configs.items():
        index = [names.index(n) for n in kept]
        reduced = [
            Sample(
                s.conversation, s.category, s.ids, s.evidence, s.matrix[:, index], s.offset, s.prior
            )
            for s in samples
        ]
        rankings, _ = cross_validated(reduced, kept, folds)
        result = score_run(rankings, evidence, categories)
        rows[label] = {g: m["R@10"] for g, m in result.items()} | {"R@5": result["all"]["R@5"]}
        print(
            f"{label:<26} " + " ".join(f"{g} {v:.3f}" for g, v in rows[label].items()), flush=True
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


def main(argv: list[str] | None = None) -> int:
    from metrics import score_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--write", type=Path, help="write the weights fitted on all conversations")
    parser.add_argument("--ablation", type=Path, help="also run the ablation; write JSON here")
    parser.add_argument(
        "--without-dynamics",
        action="store_true",
        help="leave the memory-dynamics signals out (the before/after check of docs/dynamics.md)",
    )
    args = parser.parse_args(argv)
    hand = {n: 0.0 if n in DYNAMICS else w for n, w in HAND_SET.items()}
    if not args.without_dynamics:
        hand = dict(HAND_SET)

    conversations = locomo.load(args.data)
    names = [n for n in SIGNALS if n not in HAND_SET]
    with Memory(":memory:") as mem:
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id)
        samples = collect(mem, conversations, names, hand)
    evidence = [s.evidence for s in samples]
    categories = [s.category for s in samples]
    cv_rankings, _ = cross_validated(samples, names, len(conversations))
    weights = fit(samples, names)
    in_rankings = [rank(s, weights, names) for s in samples]
    for label, rankings in (("cross-validated", cv_rankings), ("in-sample", in_rankings)):
        result = score_run(rankings, evidence, categories)
        print(
            label,
            {g: round(m["R@10"], 3) for g, m in result.items()},
            "R@5",
            round(result["all"]["R@5"], 3),
        )
    print(json.dumps(weights, indent=2))
    if args.ablation:
        ablation(samples, names, evidence, categories, len(conversations), args.ablation)
    if args.write:
        document = {
            "source": "fitted on LoCoMo dev (5 conversations, categories 1-4) by "
            "`python bench/ranker_fit.py --write src/engramdb/recall/weights.json`",
            "temperature": 1.0,
            "salience_band": SALIENCE_BAND,
            "weights": weights | HAND_SET,
        }
        args.write.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
