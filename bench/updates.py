"""Updates benchmark: histories in which facts change, asked three ways (docs/consolidation.md).

Generated (seeded) conversations: people who move, change jobs, partners,
favourite foods and how many pets they have, each change said in its own
session among small talk and distractors (other people's values, places
visited, foods tried). Questions of three kinds:

- current: "Where does Maya live now?" -> the latest value;
- as of:   "Where did Maya live?" with ``as_of`` a date inside an older
  value's interval -> the value then;
- previous: "Where did Maya live before?" -> the value before the latest.

A question is answered at top-1 when the first hit is the person's own
statement (speaker, or fact subject) holding the expected value. The same
searches run without and with consolidation, in the same run: ``episodes``
is the default search (episodes; facts as keys once consolidated), ``facts``
is ``search(kinds="fact")``. Also LoCoMo dev Recall@10 with and without
consolidated keys, and consolidation throughput.

    python bench/updates.py --out bench/results/updates.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory, Settings
from engramdb.formats import locomo
from locomo import DEFAULT_DATA, machine, questions
from metrics import score_run

PEOPLE = [
    "Maya",
    "Jonas",
    "Priya",
    "Tomasz",
    "Aiko",
    "Diego",
    "Fatima",
    "Liam",
    "Ines",
    "Kofi",
    "Sofia",
    "Arjun",
    "Elena",
    "Marcus",
    "Yuki",
    "Noah",
    "Leila",
    "Oskar",
    "Chloe",
    "Ravi",
]
FRIEND = "Sam"
CITIES = [
    "Denver",
    "Lisbon",
    "Toronto",
    "Osaka",
    "Austin",
    "Berlin",
    "Nairobi",
    "Seattle",
    "Melbourne",
    "Boston",
    "Dublin",
    "Portland",
    "Madrid",
    "Chicago",
    "Oslo",
    "Lima",
]
EMPLOYERS = [
    "Stripe",
    "Pfizer",
    "Spotify",
    "Airbus",
    "Shopify",
    "Siemens",
    "Etsy",
    "Nike",
    "Lego",
    "Ikea",
    "Adobe",
    "Oracle",
    "Philips",
    "Canva",
    "Atlassian",
    "Zillow",
]
PARTNERS = [
    "Alex",
    "Jordan",
    "Sasha",
    "Robin",
    "Casey",
    "Morgan",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Harper",
    "Rowan",
    "Emery",
    "Dakota",
    "Skyler",
    "Reese",
]
FOODS = [
    "ramen",
    "tacos",
    "paella",
    "pho",
    "lasagna",
    "curry",
    "sushi",
    "falafel",
    "dumplings",
    "risotto",
    "burritos",
    "pierogi",
    "gnocchi",
    "shakshuka",
    "bibimbap",
    "moussaka",
]
COUNTS = ["1", "2", "3", "4", "5"]

#: attribute -> (values, statement templates, questions current/as-of/previous)
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "residence": {
        "values": CITIES,
        "say": [
            "I just moved to {v}!",
            "We finally moved to {v} last week.",
            "Big news: I live in {v} now.",
            "I relocated to {v} for a fresh start.",
        ],
        "ask": ["Where does {p} live now?", "Where does {p} live?", "Where did {p} live before?"],
    },
    "employer": {
        "values": EMPLOYERS,
        "say": [
            "I started my new job at {v} this week.",
            "I work at {v} now.",
            "Guess what, I got a job at {v}!",
            "My new job at {v} is going well.",
        ],
        "ask": [
            "Where does {p} work now?",
            "Where does {p} work?",
            "Where did {p} use to work before?",
        ],
    },
    "partner": {
        "values": PARTNERS,
        "say": [
            "My partner is {v}, we met recently.",
            "I'm dating {v} now.",
            "My new partner {v} is wonderful.",
            "I'm seeing {v}, it's serious.",
        ],
        "ask": [
            "Who is {p}'s partner now?",
            "Who is {p}'s partner?",
            "Who was {p}'s previous partner?",
        ],
    },
    "favorite food": {
        "values": FOODS,
        "say": [
            "My favorite food is {v} these days.",
            "My favourite food is now {v}.",
            "Honestly my favorite food is {v}.",
        ],
        "ask": [
            "What is {p}'s favorite food now?",
            "What is {p}'s favorite food?",
            "What was {p}'s favorite food before?",
        ],
    },
    "number of dogs": {
        "values": COUNTS,
        "say": [
            "We have {v} dogs now.",
            "I have {v} dogs at home these days.",
            "I now have {v} dogs, it's chaos.",
        ],
        "ask": [
            "How many dogs does {p} have now?",
            "How many dogs does {p} have?",
            "How many dogs did {p} have before?",
        ],
    },
}
SMALL_TALK = [
    "How was your weekend?",
    "Pretty relaxed, mostly reading.",
    "The weather has been lovely.",
    "I watched a great documentary yesterday.",
    "Work has been busy lately.",
    "Did you see the game last night?",
    "I've been trying to sleep earlier.",
    "Let's catch up again soon!",
    "That sounds fun, tell me more.",
    "I'm so happy for you!",
]
DISTRACTORS = [
    "I visited {city} for a weekend, lovely place.",
    "Have you ever tried {food}? I had some.",
    "My cousin works at {employer}, she likes it.",
    "I read an article about {city}.",
    "{partner} from my book club says hi.",
    "We ate {food} at a party, it was fine.",
    "A friend of mine has {count} dogs.",
]
KINDS = ("current", "as_of", "previous")


@dataclass(frozen=True, slots=True)
class Question:
    namespace: str
    kind: str
    person: str
    text: str
    expected: str
    as_of: datetime | None
    attribute: str = ""
    #: the person's statements of this attribute, oldest first: (value, text said)
    history: tuple[tuple[str, str], ...] = ()


def generate(
    seed: int, namespaces: int, people: int
) -> tuple[dict[str, list[dict[str, Any]]], list[Question], datetime]:
    rng = random.Random(seed)
    start = datetime(2022, 1, 3, 10, tzinfo=timezone.utc)
    histories: dict[str, list[dict[str, Any]]] = {}
    asked: list[Question] = []
    end = start
    for n in range(namespaces):
        namespace = f"updates-{n}"
        chosen = rng.sample(PEOPLE, people)
        events: list[tuple[datetime, str, str, str]] = []  # when, person, attribute, value
        for person in chosen:
            for attribute, spec in ATTRIBUTES.items():
                changes = rng.randint(2, 4)
                values = rng.sample(spec["values"], changes)
                when = start + timedelta(days=rng.randint(0, 60))
                for value in values:
                    events.append((when, person, attribute, value))
                    when += timedelta(days=rng.randint(60, 200))
        events.sort()
        turns: list[dict[str, Any]] = []
        timeline: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        statements: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for i, (when, person, attribute, value) in enumerate(events):
            session = f"s{i}"
            said = rng.choice(ATTRIBUTES[attribute]["say"]).format(v=value)
            lines = [(FRIEND, rng.choice(SMALL_TALK)), (person, rng.choice(SMALL_TALK))]
            lines.append((person, said))
            lines.append((FRIEND, rng.choice(SMALL_TALK)))
            other = rng.choice(chosen)
            lines.append(
                (
                    other,
                    rng.choice(DISTRACTORS).format(
                        city=rng.choice(CITIES),
                        food=rng.choice(FOODS),
                        employer=rng.choice(EMPLOYERS),
                        partner=rng.choice(PARTNERS),
                        count=rng.choice(COUNTS),
                    ),
                )
            )
            for j, (speaker, text) in enumerate(lines):
                turns.append(
                    {
                        "text": text,
                        "speaker": speaker,
                        "session": session,
                        "occurred_at": when + timedelta(minutes=j),
                    }
                )
            timeline.setdefault((person, attribute), []).append((when, value))
            statements.setdefault((person, attribute), []).append((value, said))
            end = max(end, when)
        histories[namespace] = turns
        for (person, attribute), values in sorted(timeline.items()):
            ask = ATTRIBUTES[attribute]["ask"]
            history = tuple(statements[person, attribute])
            asked.append(
                Question(
                    namespace,
                    "current",
                    person,
                    ask[0].format(p=person),
                    values[-1][1],
                    None,
                    attribute,
                    history,
                )
            )
            asked.append(
                Question(
                    namespace,
                    "previous",
                    person,
                    ask[2].format(p=person),
                    values[-2][1],
                    None,
                    attribute,
                    history,
                )
            )
            k = rng.randrange(len(values) - 1)  # an older value, asked in mid-interval
            middle = values[k][0] + (values[k + 1][0] - values[k][0]) / 2
            asked.append(
                Question(
                    namespace,
                    "as_of",
                    person,
                    ask[1].format(p=person),
                    values[k][1],
                    middle,
                    attribute,
                    history,
                )
            )
    return histories, asked, end + timedelta(days=30)


def answered(hit_text: str, hit_speaker: str | None, question: Question) -> bool:
    if hit_speaker != question.person:
        return False
    return re.search(rf"\b{re.escape(question.expected)}\b", hit_text, re.IGNORECASE) is not None


def run_updates(seed: int, namespaces: int, people: int) -> dict[str, Any]:
    histories, asked, now = generate(seed, namespaces, people)
    results: dict[str, Any] = {}
    with Memory(":memory:") as mem:
        for namespace, turns in histories.items():
            mem.add_many(turns, namespace=namespace)
        episodes = sum(len(t) for t in histories.values())
        results["without"] = {"episodes": accuracy(mem, asked, now, None)}
        start = time.perf_counter()
        reports = [mem.consolidate(namespace=ns, now=now) for ns in histories]
        seconds = time.perf_counter() - start
        results["with"] = {
            "episodes": accuracy(mem, asked, now, None),
            "facts": accuracy(mem, asked, now, "fact"),
        }
        results["context"] = contradictions(mem, asked, now)
        results["consolidation"] = {
            "episodes": episodes,
            "seconds": seconds,
            "episodes_per_s": episodes / seconds,
            "facts": sum(r.facts for r in reports),
            "superseded": sum(r.superseded for r in reports),
            "stale": sum(r.stale for r in reports),
            "merged": sum(r.merged for r in reports),
            "summaries": sum(r.summaries for r in reports),
        }
        results["questions"] = {kind: sum(q.kind == kind for q in asked) for kind in KINDS}
    return results


def accuracy(
    mem: Memory, asked: Sequence[Question], now: datetime, kinds: str | None
) -> dict[str, float]:
    right = dict.fromkeys(KINDS, 0)
    for q in asked:
        hits = mem.search(
            q.text,
            namespace=q.namespace,
            limit=1,
            now=now,
            as_of=q.as_of,
            kinds=kinds,
            reinforce=False,
        )
        if hits and answered(hits[0].engram.text, hits[0].engram.speaker, q):
            right[q.kind] += 1
    return {kind: right[kind] / max(1, sum(q.kind == kind for q in asked)) for kind in KINDS}


def contradictions(mem: Memory, asked: Sequence[Question], now: datetime) -> dict[str, float]:
    """``mem.context`` for every question: how often the bundle states two values of
    the person's attribute unmarked (as if both held), and how often it holds the
    current value unmarked. An item states a value when it is the person's own
    statement of it or the fact about them; what no longer holds must end with
    "(until DATE)" (docs/context.md)."""
    both = current = 0
    for q in asked:
        said = {text: value for value, text in q.history}
        unmarked: set[str] = set()
        for item in mem.context(q.text, namespace=q.namespace, now=now).items:
            if _UNTIL.search(item.text):
                continue
            if item.kind == "fact" and item.source_id is not None:
                meta = mem.get(item.source_id, namespace=q.namespace).metadata
                if meta.get("subject") == q.person and meta.get("attribute") == q.attribute:
                    # the value as said ("pierogi these days" is "pierogi")
                    unmarked |= {v for v in said.values() if _names(str(meta["value"]), v)}
            elif item.speaker == q.person and item.text in said:
                unmarked.add(said[item.text])
        both += len(unmarked) > 1
        current += q.history[-1][0] in unmarked
    return {"contradicting": both / len(asked), "current_unmarked": current / len(asked)}


_UNTIL = re.compile(r"\((?:.* )?until \d{4}-\d{2}-\d{2}\)$")


def _names(text: str, value: str) -> bool:
    return re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE) is not None


def run_locomo(path: Path) -> dict[str, Any]:
    conversations = locomo.load(path)
    evidence = [list(q.evidence) for c in conversations for q in questions(c)]
    categories = [q.category for c in conversations for q in questions(c)]
    out: dict[str, Any] = {}
    with Memory(settings=Settings(path=":memory:")) as mem:
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id)
        out["without"] = score_run(search_all(mem, conversations), evidence, categories)["all"]
        start = time.perf_counter()
        reports = [
            mem.consolidate(namespace=c.sample_id, now=c.last_session_at) for c in conversations
        ]
        seconds = time.perf_counter() - start
        out["with"] = score_run(search_all(mem, conversations), evidence, categories)["all"]
        turns = sum(len(c.turns) for c in conversations)
        out["consolidation"] = {
            "episodes": turns,
            "seconds": seconds,
            "episodes_per_s": turns / seconds,
            "facts": sum(r.facts for r in reports),
            "summaries": sum(r.summaries for r in reports),
        }
    return out


def search_all(mem: Memory, conversations: Sequence[locomo.Conversation]) -> list[list[str]]:
    rankings = []
    for conv in conversations:
        for q in questions(conv):
            hits = mem.search(
                q.question,
                namespace=conv.sample_id,
                limit=20,
                now=conv.last_session_at,
                reinforce=False,
            )
            rankings.append([str(h.engram.metadata.get("dia_id")) for h in hits])
    return rankings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-locomo", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/updates.json"))
    args = parser.parse_args(argv)

    updates = run_updates(args.seed, args.namespaces, args.people)
    print(f"{'updates top-1':<28} {'current':>8} {'as_of':>8} {'previous':>8}")
    for label, row in (
        ("without consolidation", updates["without"]["episodes"]),
        ("with: episodes (default)", updates["with"]["episodes"]),
        ("with: facts (kinds=fact)", updates["with"]["facts"]),
    ):
        print(f"{label:<28} {row['current']:>8.3f} {row['as_of']:>8.3f} {row['previous']:>8.3f}")
    ctx = updates["context"]
    print(
        f"context(): two values unmarked in {ctx['contradicting']:.3f} of bundles, "
        f"the current value unmarked in {ctx['current_unmarked']:.3f}"
    )
    c = updates["consolidation"]
    print(
        f"consolidation: {c['episodes']} episodes in {c['seconds']:.2f} s "
        f"({c['episodes_per_s']:.0f} episodes/s), {c['facts']} facts, "
        f"{c['superseded']} superseded, {c['stale']} stale"
    )
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/updates.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "seed": args.seed,
        "updates": updates,
    }
    if not args.no_locomo:
        lo = run_locomo(args.data)
        print(
            f"LoCoMo dev R@10: without {lo['without']['R@10']:.3f}  "
            f"with consolidated keys {lo['with']['R@10']:.3f}  "
            f"(consolidation {lo['consolidation']['episodes_per_s']:.0f} episodes/s, "
            f"{lo['consolidation']['facts']} facts)"
        )
        report["locomo"] = lo
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
