"""``bench/learning.py concepts``: concepts from 1, 3, 5 and 10 examples on LoCoMo dev turns.

The labelled set is ``bench/data/concept_labels.jsonl`` (turn ids and topics only;
the labelling rules are in docs/learning.md, "Concepts"). For each number of
examples k and each of ``--draws`` draws (seeded), k turns of each topic are the
examples and every other labelled turn is a test turn. Turns are embedded as the
store embeds a memory (speaker, then text), examples as ``teach`` embeds them
(their text), with the packaged model. Reported, per k, averaged over the draws:

- ``prototype``: the nearest prototype (``learn.concepts.Prototypes``: what
  ``teach`` builds), closed set: every test turn gets a topic;
- ``tags``: what ``search(..., concept=...)`` filters on: the concept a turn is
  tagged with (threshold and margin), its nearest if several, none if none
  (a turn tagged with none counts as wrong); with the share of turns tagged;
- ``nearest example``: 1-nearest-neighbour over the examples' vectors (cosine);
- ``keyword``: the topic whose examples share the most words with the turn, each
  word weighed by its IDF over the labelled turns (recall's own analyser:
  folded, stopword-free, stemmed); a turn sharing no word gets none.

Accuracy and macro-F1 (over the topics; a "none" answer is a miss for its
turn's topic and a false positive for none).

And the open set, what the threshold decides (``alone``): each topic taught on
its own (no other concept to be nearer to), the F1 of its tags over the test
turns, and the share of unlabelled turns (every fourth turn of the dev
conversations that has no label: small talk and the topics left out) it tags.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb import Memory
from engramdb.learn.concepts import Prototypes
from engramdb.recall.indexing import embedding_text
from engramdb.recall.lexical import analyze

LABELS = Path(__file__).resolve().parent / "data" / "concept_labels.jsonl"
SHOTS = (1, 3, 5, 10)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--draws", type=int, default=10, help="draws of the examples per k")
    parser.add_argument("--shots", type=int, nargs="+", default=list(SHOTS))
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")


def _unlabelled(data: Path, turns: list[dict[str, Any]]) -> list[str]:
    """Every fourth turn of the conversations that has no label, as the store embeds it."""
    labelled = {(t["conversation"], t["dia_id"]) for t in turns}
    out = []
    for index, sample in enumerate(json.loads(data.read_text())):
        for key, session in sample["conversation"].items():
            if key.startswith("session_") and isinstance(session, list):
                for turn in session:
                    if (index, turn["dia_id"]) not in labelled:
                        out.append(embedding_text(turn["text"], turn["speaker"]))
    return out[::4]


def _turns(data: Path, labels: Path) -> list[dict[str, Any]]:
    conversations = json.loads(data.read_text())
    by_id: dict[tuple[int, str], dict[str, Any]] = {}
    for index, sample in enumerate(conversations):
        for key, session in sample["conversation"].items():
            if key.startswith("session_") and isinstance(session, list):
                for turn in session:
                    by_id[(index, turn["dia_id"])] = turn
    out = []
    for line in labels.read_text().splitlines():
        row = json.loads(line)
        turn = by_id[(row["conversation"], row["dia_id"])]
        out.append({**row, "text": turn["text"], "speaker": turn["speaker"]})
    return out


def _scores(truth: list[str], predicted: list[str | None], topics: list[str]) -> dict[str, float]:
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    f1s = []
    for topic in topics:
        tp = sum(t == topic and p == topic for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != topic and p == topic for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == topic and p != topic for t, p in zip(truth, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": accuracy, "macro_f1": float(np.mean(f1s))}


class _Keywords:
    """The keyword baseline: IDF-weighted overlap of a turn's words with each topic's
    examples' words."""

    def __init__(self, texts: list[str]) -> None:
        self.terms = [set(analyze(t)) for t in texts]
        df = Counter(w for terms in self.terms for w in terms)
        self.idf = {w: math.log(1 + len(texts) / n) for w, n in df.items()}

    def predict(self, examples: dict[str, list[int]], rows: list[int]) -> list[str | None]:
        bags = {
            topic: set().union(*(self.terms[i] for i in ids)) for topic, ids in examples.items()
        }
        out: list[str | None] = []
        for row in rows:
            scores = {
                topic: sum(self.idf[w] for w in self.terms[row] & bag)
                for topic, bag in bags.items()
            }
            best = max(scores, key=lambda t: (scores[t], t))
            out.append(best if scores[best] > 0 else None)
        return out


def run(args: argparse.Namespace) -> int:
    turns = _turns(args.data, args.labels)
    topics = sorted({t["topic"] for t in turns})
    with Memory(":memory:") as memory:
        started = time.process_time()
        embedder = memory.embedder
        stored = embedder.embed([embedding_text(t["text"], t["speaker"]) for t in turns])
        plain = embedder.embed([t["text"] for t in turns])
        others = embedder.embed(_unlabelled(args.data, turns))
        seconds = time.process_time() - started
    keywords = _Keywords([t["text"] for t in turns])
    truth_all = [t["topic"] for t in turns]
    by_topic = {topic: [i for i, t in enumerate(turns) if t["topic"] == topic] for topic in topics}
    print(
        f"{len(turns)} labelled turns ({len(others)} unlabelled), {len(topics)} topics "
        f"({', '.join(f'{k} {len(v)}' for k, v in by_topic.items())}); "
        f"embedded in {seconds:.1f} CPU-s"
    )
    results: dict[str, Any] = {"turns": len(turns), "topics": topics, "draws": args.draws}
    header = f"{'k':>3} {'method':<16} {'accuracy':>9} {'macro-F1':>9}"
    print(header)
    for k in args.shots:
        sums: dict[str, list[dict[str, float]]] = {}
        tagged_shares = []
        alone_f1: list[float] = []
        alone_others: list[float] = []
        for draw in range(args.draws):
            rng = random.Random(args.seed * 1_000 + draw * 31 + k)
            examples = {topic: rng.sample(ids, k) for topic, ids in by_topic.items()}
            chosen = {i for ids in examples.values() for i in ids}
            rows = [i for i in range(len(turns)) if i not in chosen]
            truth = [truth_all[i] for i in rows]
            prototypes = Prototypes.of([(topic, plain[examples[topic]]) for topic in topics])
            vectors: npt.NDArray[np.float32] = stored[rows]
            sims = prototypes.similarities(vectors)
            closed = [prototypes.names[int(j)] for j in sims.argmax(axis=1)]
            tags = prototypes.nearest(vectors)
            tagged_shares.append(sum(t is not None for t in tags) / len(tags))
            example_rows = [i for topic in topics for i in examples[topic]]
            example_topics = [turns[i]["topic"] for i in example_rows]
            nearest = (vectors @ plain[example_rows].T).argmax(axis=1)
            one_nn: list[str | None] = [example_topics[int(j)] for j in nearest]
            for topic in topics:
                one = Prototypes.of([(topic, plain[examples[topic]])])
                member = one.membership(vectors)[:, 0]
                truth_of = np.array([t == topic for t in truth])
                hit = int((member & truth_of).sum())
                wrong = int((member & ~truth_of).sum()) + int((~member & truth_of).sum())
                alone_f1.append(2 * hit / (2 * hit + wrong) if hit else 0.0)
                alone_others.append(float(one.membership(others)[:, 0].mean()))
            for name, predicted in (
                ("prototype", list(closed)),
                ("tags", tags),
                ("nearest example", one_nn),
                ("keyword", keywords.predict(examples, rows)),
            ):
                sums.setdefault(name, []).append(_scores(truth, predicted, topics))
        results[str(k)] = {}
        for name, runs in sums.items():
            accuracy = float(np.mean([r["accuracy"] for r in runs]))
            f1 = float(np.mean([r["macro_f1"] for r in runs]))
            spread = float(np.std([r["macro_f1"] for r in runs]))
            results[str(k)][name] = {"accuracy": accuracy, "macro_f1": f1, "macro_f1_std": spread}
            print(f"{k:>3} {name:<16} {accuracy:>9.3f} {f1:>9.3f}  (F1 sd {spread:.3f})")
        share = float(np.mean(tagged_shares))
        results[str(k)]["tags"]["tagged_share"] = share
        alone = {"f1": float(np.mean(alone_f1)), "unlabelled_tagged": float(np.mean(alone_others))}
        results[str(k)]["alone"] = alone
        print(f"{k:>3} {'':<16} tagged with a concept: {share:.3f} of test turns")
        print(
            f"{k:>3} {'alone':<16} F1 {alone['f1']:.3f}, unlabelled turns tagged "
            f"{alone['unlabelled_tagged']:.3f} (each topic taught on its own)"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0
