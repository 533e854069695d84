"""Learning on LoCoMo dev: what feedback and the learned per-namespace weights change.

Subcommands, each deterministic with ``--seed``:

    python bench/learning.py feedback      # per conversation: feedback on half the questions,
                                           # Recall@10 of the other half before and after
    python bench/learning.py transfer      # conversation A, then B in one namespace:
                                           # A's recall after B (backward transfer)
    python bench/learning.py concepts      # concepts from 1/3/5/10 examples per topic:
                                           # accuracy and macro-F1 against the nearest
                                           # example and keywords (bench/learn_concepts.py)
    python bench/learning.py experiences   # a generated task set: is the best-rewarded
                                           # action first, against similarity alone
                                           # (bench/learn_experiences.py)
    python bench/learning.py ceiling       # what per-conversation weights could learn
                                           # at most from these signals

Each subcommand is its own function below; results go to BENCHMARKS.md, "Learning"
(docs/learning.md).

``feedback``: each conversation's questions (categories 1-4, with evidence) are
shuffled with the seed and split in half. For each training question the
namespace is searched (``--shown`` hits, reinforcement off) and judged as a user
would: each evidence turn among the hits useful (1), each other hit of the top
10 not useful (-1). Test Recall@10 is measured on the other half, only on the
questions none of whose evidence turns was marked useful in training, before
and after, with reinforcement off: what changes comes from the namespace's
learned weights alone. The control gives the same number of judgements to the
same searches at random (random hits among those shown, random +1 or -1), after
``reset_weights`` restored the prior.

``transfer``: conversations A and B in one namespace (pairs 0-1, 1-2, ..., 4-0).
Feedback on A's training half, then on B's; A's test recall after A and after B
(backward transfer: after B less after A) and B's test recall before any
feedback and after A's (forward transfer: what A's feedback did for B).

``concepts`` and ``experiences`` are modules of their own (bench/learn_concepts.py,
bench/learn_experiences.py), each documented there.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import learn_concepts
import learn_experiences
from engramdb import Memory, Settings
from engramdb.formats import locomo
from metrics import recall_at

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"

#: subcommand -> (help, adds its own arguments, runs it on the parsed arguments: exit code)
COMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "concepts": (
        "concepts from a few examples: labelled LoCoMo dev turns by topic",
        learn_concepts.configure,
        learn_concepts.run,
    ),
    "experiences": (
        "experiences: the best-rewarded action first, on a generated task set",
        learn_experiences.configure,
        learn_experiences.run,
    ),
}

#: The hits a judged search shows, and how many of its top hits a user reads.
SHOWN = 30
READ = 10


@dataclass
class Split:
    """One conversation's questions in a namespace: a training half and a test half."""

    conversation: locomo.Conversation
    namespace: str
    train: list[locomo.Question]
    test: list[locomo.Question]


def questions(conv: locomo.Conversation) -> list[locomo.Question]:
    return [q for q in conv.questions if q.category != 5 and q.evidence]


def split(conv: locomo.Conversation, namespace: str, seed: int) -> Split:
    qs = questions(conv)
    order = list(range(len(qs)))
    random.Random(f"{seed}:{conv.sample_id}").shuffle(order)
    half = len(qs) // 2
    return Split(conv, namespace, [qs[i] for i in order[:half]], [qs[i] for i in order[half:]])


def dia(hit: Any) -> str:
    return str(hit.engram.metadata.get("dia_id"))


def teach(mem: Memory, part: Split, rng: random.Random | None = None) -> set[str]:
    """Judge a search of each training question; returns the dia_ids marked useful
    (those the real judgements mark, for the control too: the same test questions)."""
    marked: set[str] = set()
    for q in part.train:
        hits = mem.search(
            q.question,
            namespace=part.namespace,
            limit=SHOWN,
            now=part.conversation.last_session_at,
            reinforce=False,
        )
        evidence = set(q.evidence)
        real = [
            (hit, 1.0 if dia(hit) in evidence else -1.0)
            for hit in hits
            if dia(hit) in evidence or hit.rank <= READ
        ]
        marked |= {dia(h) for h, r in real if r > 0}
        judged = real
        if rng is not None:  # as many judgements, on random hits, with random rewards
            chosen = rng.sample(range(len(hits)), len(real))
            judged = [(hits[i], rng.choice((1.0, -1.0))) for i in chosen]
        for hit, reward in judged:
            mem.feedback(hit, reward, namespace=part.namespace)
    return marked


def tested(part: Split, marked: set[str]) -> list[locomo.Question]:
    return [q for q in part.test if not set(q.evidence) & marked]


def recall10(mem: Memory, part: Split, qs: Sequence[locomo.Question]) -> list[float]:
    found = []
    for q in qs:
        hits = mem.search(
            q.question,
            namespace=part.namespace,
            limit=10,
            now=part.conversation.last_session_at,
            reinforce=False,
        )
        found.append(recall_at([dia(h) for h in hits], list(q.evidence), 10))
    return found


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _store() -> Memory:
    where = Path(tempfile.mkdtemp(prefix="engram-learning-")) / "store"
    return Memory(settings=Settings(path=str(where)))


# -- feedback ------------------------------------------------------------------------


def run_feedback(args: argparse.Namespace) -> int:
    conversations = locomo.load(args.data)
    rows = []
    start = time.perf_counter()
    with _store() as mem:
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id, embed="now")
        for conv in conversations:
            part = split(conv, conv.sample_id, args.seed)
            marked = teach(mem, part)
            learned = mem.weights(namespace=part.namespace)
            qs = tested(part, marked)
            after = recall10(mem, part, qs)
            mem.reset_weights(namespace=part.namespace)
            before = recall10(mem, part, qs)
            teach(mem, part, random.Random(f"{args.seed}:random:{conv.sample_id}"))
            control = recall10(mem, part, qs)
            mem.reset_weights(namespace=part.namespace)
            rows.append(
                {
                    "conversation": conv.sample_id,
                    "train": len(part.train),
                    "test": len(qs),
                    "test_all": len(part.test),
                    "before": _mean(before),
                    "after": _mean(after),
                    "random": _mean(control),
                    "updates": learned.updates,
                    "rejected": learned.rejected,
                    "largest_shifts": sorted(
                        ((s.signal, round(s.shift, 4)) for s in learned.signals),
                        key=lambda x: -abs(x[1]),
                    )[:5],
                    "per_question": {"before": before, "after": after, "random": control},
                }
            )
            print(
                f"{conv.sample_id}: test {len(qs)}/{len(part.test)}  R@10 before "
                f"{rows[-1]['before']:.4f}  after {rows[-1]['after']:.4f}  random "
                f"{rows[-1]['random']:.4f}  (updates {learned.updates}, refused "
                f"{learned.rejected})",
                flush=True,
            )
    overall = {
        key: _mean([v for r in rows for v in r["per_question"][key]])
        for key in ("before", "after", "random")
    }
    overall["lift"] = overall["after"] - overall["before"]
    overall["random_change"] = overall["random"] - overall["before"]
    overall["n"] = sum(r["test"] for r in rows)
    print(
        f"overall: n {overall['n']}  before {overall['before']:.4f}  after "
        f"{overall['after']:.4f}  (lift {overall['lift']:+.4f})  random {overall['random']:.4f} "
        f"({overall['random_change']:+.4f})  {time.perf_counter() - start:.0f} s"
    )
    result = {"seed": args.seed, "shown": SHOWN, "read": READ, "conversations": rows}
    _write(args, result | {"overall": overall})
    return 0


# -- transfer ------------------------------------------------------------------------


def run_transfer(args: argparse.Namespace) -> int:
    conversations = locomo.load(args.data)
    rows = []
    with _store() as mem:
        for i, a in enumerate(conversations):
            b = conversations[(i + 1) % len(conversations)]
            namespace = f"{a.sample_id}.then.{b.sample_id}"
            mem.add_many([*a.turns, *b.turns], namespace=namespace, embed="now")
            first, second = split(a, namespace, args.seed), split(b, namespace, args.seed)
            prior = recall10(mem, first, first.test), recall10(mem, second, second.test)
            marked = teach(mem, first)
            after_a = recall10(mem, first, first.test), recall10(mem, second, second.test)
            marked |= teach(mem, second)
            after_b = recall10(mem, first, first.test), recall10(mem, second, second.test)
            mem.forget_namespace(namespace)
            # only questions none of whose evidence either training half marked useful
            keep = [
                [j for j, q in enumerate(part.test) if not set(q.evidence) & marked]
                for part in (first, second)
            ]

            def mean(values: list[float], side: int, keep: list[list[int]] = keep) -> float:
                return _mean([values[j] for j in keep[side]])

            row = {
                "a": a.sample_id,
                "b": b.sample_id,
                "n_a": len(keep[0]),
                "n_b": len(keep[1]),
                "a_prior": mean(prior[0], 0),
                "a_after_a": mean(after_a[0], 0),
                "a_after_b": mean(after_b[0], 0),
                "b_prior": mean(prior[1], 1),
                "b_after_a": mean(after_a[1], 1),
                "b_after_b": mean(after_b[1], 1),
            }
            row["backward"] = row["a_after_b"] - row["a_after_a"]
            row["forward"] = row["b_after_a"] - row["b_prior"]
            row["b_gain"] = row["b_after_b"] - row["b_prior"]
            rows.append(row)
            print(
                f"{a.sample_id} then {b.sample_id}: A {row['a_prior']:.4f} -> after A "
                f"{row['a_after_a']:.4f} -> after B {row['a_after_b']:.4f} (backward "
                f"{row['backward']:+.4f}); B {row['b_prior']:.4f} -> after A "
                f"{row['b_after_a']:.4f} (forward {row['forward']:+.4f}) -> after B "
                f"{row['b_after_b']:.4f} (gain {row['b_gain']:+.4f})",
                flush=True,
            )
    overall = {
        key: float(np.mean([r[key] for r in rows])) for key in ("backward", "forward", "b_gain")
    }
    print(
        f"mean over pairs: backward {overall['backward']:+.4f}  forward "
        f"{overall['forward']:+.4f}  B's gain {overall['b_gain']:+.4f}"
    )
    _write(args, {"seed": args.seed, "pairs": rows, "overall": overall})
    return 0


# -- ceiling -------------------------------------------------------------------------


def run_ceiling(args: argparse.Namespace) -> int:
    """What per-namespace weights could learn at most from these signals: each training
    question judged on every turn of its conversation (evidence 1, every other turn 0),
    fitted by ``learn.weights.fit`` at several strengths; the same test questions."""
    from engramdb.learn.weights import Judged, LearnedWeights, fit, learnable
    from engramdb.recall.features import Query, signals
    from engramdb.recall.ranker import AttentionRanker

    conversations = locomo.load(args.data)
    strengths = (0.01, 0.1, 1.0, 2.0)
    found: dict[str, list[float]] = {"prior": [], **{str(s): [] for s in strengths}}
    with _store() as mem:
        prior = mem._recall().ranker.weights  # the benchmark reads the engine's own signals
        names = learnable(prior)
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id, embed="now")
            view = mem._recall().view(conv.sample_id)
            engrams = {e.id: e for e in mem.store.iter_engrams(conv.sample_id)}
            ids = [str(engrams[i].metadata["dia_id"]) for i in view.catalog.ids]
            part = split(conv, conv.sample_id, args.seed)

            def features(q: locomo.Question, view: Any = view, conv: Any = conv) -> Any:
                vector = mem.embedder.embed([q.question])[0]
                query = Query.parse(q.question, vector, conv.last_session_at)
                return signals(query, view, (view.catalog.vectors @ vector).astype(np.float64))

            judged, marked = [], set()
            for q in part.train:
                f = features(q)
                values = np.stack([f[n] for n in names], axis=1)
                rewards = np.array([1.0 if i in set(q.evidence) else 0.0 for i in ids])
                judged.append(Judged(names, values, rewards))
                marked |= set(q.evidence)
            test = [(q, features(q)) for q in tested(part, marked)]

            def r10(weights: Any, test: Any = test, ids: list[str] = ids) -> list[float]:
                ranker = AttentionRanker(weights)
                return [
                    recall_at([ids[i] for i in ranker.rank(f).order[:10]], list(q.evidence), 10)
                    for q, f in test
                ]

            found["prior"] += r10(prior)
            row = [f"{conv.sample_id}: n {len(test)}  prior {_mean(r10(prior)):.4f}"]
            for strength in strengths:
                learned = LearnedWeights(fit(prior, judged, strength=strength)).ranker(prior)
                found[str(strength)] += r10(learned)
                row.append(f"strength {strength}: {_mean(r10(learned)):.4f}")
            print("  ".join(row), flush=True)
    overall = {key: _mean(values) for key, values in found.items()}
    print("overall: " + "  ".join(f"{k} {v:.4f}" for k, v in overall.items()))
    _write(args, {"seed": args.seed, "overall": overall, "n": len(found["prior"])})
    return 0


def _write(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None, help="write the results here (JSON)")


COMMANDS["feedback"] = (
    "feedback on half of each conversation's questions; R@10 of the other half",
    _common,
    run_feedback,
)
COMMANDS["ceiling"] = (
    "per-conversation weights fitted on every turn of the training questions",
    _common,
    run_ceiling,
)
COMMANDS["transfer"] = (
    "conversation A then B in one namespace: backward and forward transfer",
    _common,
    run_transfer,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (text, configure, _) in COMMANDS.items():
        configure(sub.add_parser(name, help=text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    raise SystemExit(main())
