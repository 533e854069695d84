"""Fit and check the calibrated relevance of hits on LoCoMo dev (docs/recall.md, "Relevance").

Every question of categories 1-4 searches its own conversation's namespace and,
as a question with nothing relevant to find, the next conversation's; the top
``LIMIT`` hits of each search are the samples. Their features
(``engramdb.recall.relevance``: the ranker's logit without the priors, its gap
to the best match, the cosine, the share of the names the query says that
the namespace holds) come from ranker weights fitted without the question's conversation
(bench/ranker_fit.py), as the ranker meets conversations it was not fitted on.

The labels are positive and unlabelled: a hit is relevant when it is an
evidence turn of the question, irrelevant when it is a memory of the other
conversation (which is not about the question's people), and unlabelled when
it is another turn of the question's own conversation: LoCoMo marks the one or
two turns that answer, not every turn on the subject, so an unmarked turn is
not known to be off topic. Unlabelled hits are left out of the fit and of the
reliability table; the report says what relevance they get.

A logistic regression maps the features to a probability, cross-validated by
conversation as bench/locomo.py does: each conversation's searches are
predicted by a calibration fitted on the others (and on no search of its
namespace). The shipped coefficients are fitted on all of them.

Reported, out of fold: a reliability table of the labelled hits (bins of
predicted relevance: count, mean predicted, observed rate), the relevance of
the unlabelled hits, and the relevance floor: the share of questions asked of
another conversation that ``min_relevance`` leaves with no hit, and the share
of the questions with an evidence turn in their top 10 that keep one.

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
from engramdb.recall.relevance import FEATURES, Calibration, features, fingerprint, match, names
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
    labelled: np.ndarray  # (hits,): an evidence turn, or a hit of another conversation


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
                relevant = np.array([ni == ci and d in q.evidence for d in found], dtype=float)
                share = names(view.lexical, q.question)
                inputs = features(match(ranking), signals["dense"], share, top, order)
                labelled = (relevant > 0) | (ni != ci)
                out.append(Search(ci, ni, q.category, inputs, relevant, labelled))
    return out


def fit(inputs: np.ndarray, labels: np.ndarray, l2: float = 1e-3) -> Calibration:
    """Logistic regression by Newton's method on standardised inputs (a small ridge
    keeps it finite), returned on the raw scale. The callers pass labelled hits only."""
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
            np.concatenate([s.inputs[s.labelled] for s in train]),
            np.concatenate([s.relevant[s.labelled] for s in train]),
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
    labelled = np.concatenate([s.labelled for s in found])
    flat = np.concatenate(predicted)
    own = np.concatenate([np.full(len(s.relevant), s.namespace == s.conversation) for s in found])
    unlabelled = flat[~labelled]
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/relevance.py", *(argv or sys.argv[1:])]),
        "data": str(args.data),
        "limit": LIMIT,
        "labelled": summary(flat[labelled], labels[labelled])
        | {"reliability": reliability(flat[labelled], labels[labelled])},
        "unlabelled": {
            "hits": float(unlabelled.size),
            "mean": float(unlabelled.mean()),
            "at_least_half": float((unlabelled >= 0.5).mean()),
        },
        # of the own searches' hits at relevance >= 0.5, the share LoCoMo marks as evidence
        "evidence_among_kept": float(labels[own & (flat >= 0.5)].mean()),
        "floor": [floor(found, predicted, at) for at in FLOORS],
    }
    calibration = fit(np.concatenate([s.inputs for s in found])[labelled], labels[labelled])
    shipped = json.loads(WEIGHTS.read_text("utf-8"))
    calibration = Calibration(
        intercept=calibration.intercept,
        coefficients=calibration.coefficients,
        ranker=fingerprint(shipped),
        source="fitted on LoCoMo dev (5 conversations, categories 1-4; each question against "
        "its own conversation and the next one, top 10 hits; evidence turns relevant, the "
        "other conversation's hits irrelevant, the own conversation's other turns left out) by "
        "`python bench/relevance.py --write src/engramdb/recall/relevance.json`",
    )
    report["calibration"] = calibration.to_json()
    report["seconds"] = time.perf_counter() - started

    print(
        "\nlabelled: "
        + ", ".join(f"{k} {v:.4f}" for k, v in report["labelled"].items() if k != "reliability")
    )
    print(markdown(report["labelled"]["reliability"]))
    print("\nunlabelled: " + ", ".join(f"{k} {v:.4f}" for k, v in report["unlabelled"].items()))
    print(f"evidence among the own hits kept at 0.5: {report['evidence_among_kept']:.4f}")
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
