"""Context benchmark (issue 9): follow-up questions and context packing on LoCoMo dev.

1. Follow-up questions. Each question of categories 1-4 that names exactly one
   of its conversation's two speakers is rewritten so the person is named only
   in a previous synthetic turn: the context is ``"Tell me about {Name}."`` and
   the question has ``{Name}'s`` replaced by her/his/their and ``{Name}`` by
   she/he/they, or her/him/them right after a preposition or one of a few
   verbs (``OBJECT_AFTER``); gender comes from the fixed ``GENDER`` table of
   LoCoMo's speakers, "they" for anyone else. No verb agreement is fixed
   ("does they"), and questions naming both speakers or neither are left out.
   Recall@10 of the evidence is reported for the original questions, the
   rewritten ones without ``context=`` and with it, on the same subset.
2. Packing. For every question, evidence coverage (the fraction of its
   evidence turns inside the context) of ``mem.context(question,
   budget_tokens=B)`` against naive top-k: hits in rank order, each as the
   same labelled line, until the next one would overflow B. B = 500, 1000, 2000.

Searches never reinforce (``reinforce=False``), so runs do not change each other.

    python bench/context.py --out bench/results/context.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory, Settings
from engramdb.formats import locomo
from engramdb.model import ContextItem
from engramdb.recall.tokens import default_counter
from locomo import DEFAULT_DATA, machine, questions
from metrics import recall_at

BUDGETS = (500, 1000, 2000)
POOL = 60
# LoCoMo's speakers (all ten conversations); anyone else is "they".
GENDER = {
    "Caroline": "f", "Melanie": "f", "Jon": "m", "Gina": "f", "John": "m", "Maria": "f",
    "Joanna": "f", "Nate": "m", "Tim": "m", "Audrey": "f", "Andrew": "m", "James": "m",
    "Deborah": "f", "Jolene": "f", "Evan": "m", "Sam": "m", "Calvin": "m", "Dave": "m",
}  # fmt: skip
PRONOUNS = {  # subject, object, possessive
    "f": ("she", "her", "her"),
    "m": ("he", "him", "his"),
    "": ("they", "them", "their"),
}
OBJECT_AFTER = frozenset(
    {
        "to", "for", "with", "about", "from", "of", "at", "by", "on", "in", "into", "than",
        "gave", "give", "gives", "told", "tell", "tells", "help", "helped", "helps", "make",
        "made", "makes", "inspire", "inspired", "inspires", "motivate", "motivated", "like",
        "likes", "love", "loves", "visit", "visited", "meet", "met", "support", "supported",
        "ask", "asked",
    }
)  # fmt: skip


def rewrite(question: str, speakers: tuple[str, str]) -> tuple[str, str] | None:
    """(context turn, rewritten question), or None when it names not exactly one speaker."""
    named = [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", question)]
    if len(named) != 1:
        return None
    name = named[0]
    subject, obj, possessive = PRONOUNS[GENDER.get(name, "")]

    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            return possessive
        before = question[: match.start()].split()
        word = obj if before and before[-1].lower() in OBJECT_AFTER else subject
        return word.capitalize() if match.start() == 0 else word

    text = re.sub(rf"\b{re.escape(name)}('s|\u2019s)?(?!\w)", swap, question)
    return f"Tell me about {name}.", text


def naive(hits: list[Any], budget: int, count: Any) -> list[str]:
    """Top-k in rank order, each as the packed context's line, until the budget is full."""
    used, ids = 0, []
    for hit in hits:
        e = hit.engram
        item = ContextItem("episode", e.text, 0, hit.score, e.id, e.occurred_at, e.speaker)
        tokens = count(item.line())
        if used + tokens > budget:
            break
        used += tokens
        ids.append(e.id)
    return ids


def run(data: Path) -> dict[str, Any]:
    conversations = list(locomo.load(data))
    count = default_counter().count
    follow: dict[str, list[float]] = {"original": [], "rewritten": [], "with_context": []}
    examples: list[dict[str, str]] = []
    packed: dict[int, list[float]] = {b: [] for b in BUDGETS}
    topk: dict[int, list[float]] = {b: [] for b in BUDGETS}
    over_budget = 0
    skipped = 0
    with tempfile.TemporaryDirectory() as tmp, Memory(settings=Settings(path=tmp)) as mem:
        start = time.perf_counter()
        dia: dict[str, str] = {}
        for conv in conversations:
            for e in mem.add_many(list(conv.turns), namespace=conv.sample_id):
                dia[e.id] = str(e.metadata.get("dia_id"))
        for conv in conversations:
            ns, now = conv.sample_id, conv.last_session_at
            for q in questions(conv):

                def ranked(
                    text: str, context: list[str] | None = None, ns: str = ns, now: Any = now
                ) -> list[str]:
                    hits = mem.search(
                        text, namespace=ns, limit=10, now=now, reinforce=False, context=context
                    )
                    return [dia[h.engram.id] for h in hits]

                pair = rewrite(q.question, conv.speakers)
                if pair is None:
                    skipped += 1
                else:
                    turn, text = pair
                    follow["original"].append(recall_at(ranked(q.question), q.evidence, 10))
                    follow["rewritten"].append(recall_at(ranked(text), q.evidence, 10))
                    follow["with_context"].append(recall_at(ranked(text, [turn]), q.evidence, 10))
                    if len(examples) < 8:
                        examples.append({"context": turn, "original": q.question, "question": text})
                hits = mem.search(q.question, namespace=ns, limit=POOL, now=now, reinforce=False)
                for budget in BUDGETS:
                    bundle = mem.context(q.question, namespace=ns, budget_tokens=budget, now=now)
                    over_budget += count(bundle.render()) > budget
                    got = {dia.get(i.source_id or "", "") for i in bundle.items}
                    packed[budget].append(len(got & set(q.evidence)) / len(q.evidence))
                    top = {dia[i] for i in naive(hits, budget, count)}
                    topk[budget].append(len(top & set(q.evidence)) / len(q.evidence))
        seconds = time.perf_counter() - start

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    original = mean(follow["original"])
    return {
        "data": str(data),
        "machine": machine(),
        "seconds": round(seconds, 1),
        "followup": {
            "questions": len(follow["original"]),
            "left_out": skipped,
            "recall@10": {k: mean(v) for k, v in follow.items()},
            "with_context_over_original": round(mean(follow["with_context"]) / original, 4)
            if original
            else 0.0,
            "examples": examples,
        },
        "packing": {
            "questions": len(packed[BUDGETS[0]]),
            "over_budget": over_budget,
            "coverage": {
                str(b): {"packed": mean(packed[b]), "naive_topk": mean(topk[b])} for b in BUDGETS
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = run(args.data)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
