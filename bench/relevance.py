"""Fit and check the calibrated relevance of hits on LoCoMo dev (docs/recall.md, "Relevance").

Every question of categories 1-4 searches its own conversation's namespace and,
as a question with nothing relevant to find, the next conversation's; the top
``LIMIT`` hits of each search are the samples, relevant when they are an
evidence turn of the question. Their features (``engramdb.recall.relevance``:
the ranker's logit without the priors, and its gap to the best match) come from
ranker weights fitted without the question's conversation (bench/ranker_fit.py),
as the ranker meets conversations it was not fitted on. A logistic regression
maps them to a probability, cross-validated by conversation as bench/locomo.py
does: each conversation's searches are predicted by a calibration fitted on the
others (and on no search of its namespace). The shipped coefficients are fitted
on all of them.

Reported, out of fold: a reliability table (bins of predicted relevance:
count, mean predicted, observed rate), and the relevance floor: the share of
questions asked of another conversation that ``min_relevance`` leaves with no
hit, and the share of the questions with an evidence turn in their top 10 that
keep one.

    python bench/relevance.py --write src/engramdb/recall/relevance.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory
from engramdb.formats import locomo
from engramdb.recall.engine import SearchRequest
from engramdb.recall.features import SIGNALS
from engramdb.recall.ranker import AttentionRanker, RankerWeights
from engramdb.recall.relevance import FEATURES, Calibration, features, fingerprint, match
from ranker_fit import DEFAULT_DATA, HAND_SET, collect, cross_validated, questions

LIMIT = 10  # the default limit of a search: the hits a caller sees
WEIGHTS = Path(__file__).resolve().parents[1] / "src/engramdb/recall/weights.json"
FLOORS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)


@dataclass
class Search:
    """One question asked of one namespace, with its top hits' features and labels."""

    conversation: int  # the question's
    namespace: int  # the conversation searched
    category: int
    inputs: np.ndarray  # (hits, FEATURES)
    relevant: np.ndarray  # (hits,): an evidence turn of the question


def fold_rankers(mem: Memory, conversations: list[locomo.Conversation]) -> list[AttentionRanker]:
    """A ranker per conversation, its fitted weights fitted without that conversation."""
    names = [n for n in SIGNALS if n not in HAND_SET]
    _, fitted = cross_validated(collect(mem, conversations, names), names, len(conversations))
    shipped = json.loads(WEIGHTS.read_text("utf-8"))
    return [
        AttentionRanker(RankerWeights.from_json(shipped | {"weights": weights | HAND_SET}))
        for weights in fitted
    ]


def searches(
    mem: Memory, conversations: list[locomo.Conversation], rankers: list[AttentionRanker]
) -> list[Search]:
    """Each question against its own namespace and the next conversation's, ranked as
    ``Recaller.search`` ranks (the memories it may return, then the top ``LIMIT``)."""
    recaller = mem._recall()  # the benchmark reads the engine's own signals
    dia = {
        c.sample_id: {
            e.id: str(e.metadata.get("dia_id")) for e in mem.store.iter_engrams(c.sample_id)
        }
        for c in conversations
    }
    out = []
    for ci, conv in enumerate(conversations):
        for q in questions(conv):
            for ni in (ci, (ci + 1) % len(conversations)):
                target = conversations[ni]
                request = SearchRequest(q.question, target.sample_id, LIMIT, target.last_session_at)
                view, signals = recaller.score(request)
                ranking = rankers[ci].rank(signals)
                eligible = recaller._eligible(request, view, signals["retention"])
                order = (
                    ranking.order if eligible is None else ranking.order[eligible[ranking.order]]
                )
                top = order[:LIMIT]
                found = [dia[target.sample_id][view.catalog.ids[i]] for i in top]
                relevant = [ni == ci and d in q.evidence for d in found]
                inputs = features(match(ranking), top, order)
                out.append(Search(ci, ni, q.category, inputs, np.array(relevant, dtype=float)))
    return out


def fit(inputs: np.ndarray, labels: np.ndarray, l2: float = 1e-3) -> Calibration:
    """Logistic regression by Newton's method on standardised inputs (a small ridge
    keeps it finite), returned on the raw scale."""
    centre, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-9
    x = np.column_stack([np.ones(len(inputs)), (inputs - centre) / scale])
    w = np.zeros(x.shape[1])
    ridge = l2 * np.diag([0.0, *([1.0] * inputs.shape[1])])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        gradient = x.T @ (p - labels) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    coefficients = w[1:] / scale
    intercept = float(w[0] - np.sum(coefficients * centre))
    return Calibration(
        intercept=intercept,
        coefficients={name: float(c) for name, c in zip(FEATURES, coefficients, strict=True)},
    )


def out_of_fold(found: list[Search], folds: int) -> list[np.ndarray]:
    """Each search's relevance from a calibration fitted on the searches that share
    no conversation with its question (neither as question nor as namespace)."""
    predicted: list[np.ndarray] = [np.zeros(0)] * len(found)
    for fold in range(folds):
        train = [s for s in found if fold not in (s.conversation, s.namespace)]
        calibration = fit(
            np.concatenate([s.inputs for s in train]), np.concatenate([s.relevant for s in train])
        )
        for i, s in enumerate(found):
            if s.conversation == fold:
                predicted[i] = calibration.probability(s.inputs)
    return predicted


def reliability(predicted: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Bins of predicted relevance: count, mean predicted, observed rate."""
    which = np.minimum((predicted * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "count": int(inside.sum()),
                    "predicted": float(predicted[inside].mean()),
                    "observed": float(labels[inside].mean()),
                }
            )
    return rows


def floor(found: list[Search], predicted: list[np.ndarray], at: float) -> dict[str, float]:
    """At ``min_relevance=at``: the share of questions asked of another conversation
    left with no hit, and of the questions with an evidence turn in their top 10 that
    keep one; and the hits a search keeps on average (own namespace)."""
    foreign = [
        bool((p >= at).any())
        for s, p in zip(found, predicted, strict=True)
        if s.namespace != s.conversation
    ]
    own = [(s, p) for s, p in zip(found, predicted, strict=True) if s.namespace == s.conversation]
    answerable = [bool((s.relevant[p >= at] > 0).any()) for s, p in own if s.relevant.any()]
    return {
        "min_relevance": at,
        "foreign_empty": 1.0 - float(np.mean(foreign)),
        "evidence_kept": float(np.mean(answerable)),
        "hits_kept": float(np.mean([(p >= at).sum() for _, p in own])),
    }


def summary(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    clipped = np.clip(predicted, 1e-9, 1 - 1e-9)
    which = np.minimum((predicted * 10).astype(int), 9)
    gaps = [abs(predicted[which == b].sum() - labels[which == b].sum()) for b in range(10)]
    return {
        "hits": float(len(labels)),
        "relevant": float(labels.sum()),
        "brier": float(np.mean((predicted - labels) ** 2)),
        "log_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))),
        "ece": float(sum(gaps) / len(labels)),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| predicted relevance | hits | mean predicted | observed rate |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['bin']} | {r['count']} | {r['predicted']:.3f} | {r['observed']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/relevance.json"))
    parser.add_argument("--write", type=Path, help="write the calibration fitted on all searches")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    conversations = locomo.load(args.data)
    with Memory(":memory:") as mem:
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id)
        rankers = fold_rankers(mem, conversations)
        found = searches(mem, conversations, rankers)
    predicted = out_of_fold(found, len(conversations))
    labels = np.concatenate([s.relevant for s in found])
    flat = np.concatenate(predicted)
    own = np.concatenate([np.full(len(s.relevant), s.namespace == s.conversation) for s in found])
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/relevance.py", *(argv or sys.argv[1:])]),
        "data": str(args.data),
        "limit": LIMIT,
        "all": summary(flat, labels) | {"reliability": reliability(flat, labels)},
        "own": summary(flat[own], labels[own])
        | {"reliability": reliability(flat[own], labels[own])},
        "floor": [floor(found, predicted, at) for at in FLOORS],
    }
    calibration = fit(np.concatenate([s.inputs for s in found]), labels)
    shipped = json.loads(WEIGHTS.read_text("utf-8"))
    calibration = Calibration(
        intercept=calibration.intercept,
        coefficients=calibration.coefficients,
        ranker=fingerprint(shipped),
        source="fitted on LoCoMo dev (5 conversations, categories 1-4; each question against "
        "its own conversation and the next one, top 10 hits) by "
        "`python bench/relevance.py --write src/engramdb/recall/relevance.json`",
    )
    report["calibration"] = calibration.to_json()
    report["seconds"] = time.perf_counter() - started

    for group in ("all", "own"):
        print(
            f"\n{group}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in report[group].items() if k != "reliability")
        )
        print(markdown(report[group]["reliability"]))
    print("\nmin_relevance  foreign searches empty  evidence kept  hits kept (own)")
    for row in report["floor"]:
        print(
            f"{row['min_relevance']:>13}  {row['foreign_empty']:>22.3f}  "
            f"{row['evidence_kept']:>13.3f}  {row['hits_kept']:>15.2f}"
        )
    print("\n" + json.dumps(report["calibration"], indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write:
        args.write.write_text(json.dumps(calibration.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
