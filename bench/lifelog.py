"""Lifelog benchmark: a generated year of one person's life under memory budgets (docs/dynamics.md).

The year (seeded, no data files) holds routine events (trivia: purchases,
errands, meals), important events (passport, lease, allergies, birthdays,
appointments), emotional events (a death, an engagement, a theft, a scare) and
reinforced events: neutral events mentioned again later at spaced intervals
(+3, +10, +30, +90 days), where the agent also looks the event up (a search).
It is replayed day by day; questions are asked at different times in the
second half of the year, each about one event's detail, and scored Recall@5
(the event's memory among the first five hits).

Three forgetting policies run in the same process on the same year, each under
budgets of 100 %, 50 % and 20 % of the year's memories (the least retained
active memories turn dormant when an add exceeds the budget):

- ``engramdb``: stability from importance and arousal, recall reinforcement,
  salience in the ranker (the defaults);
- ``recency``: plain recency decay: every memory gets the same stability and
  importance, no reinforcement, so the budget keeps the newest memories;
- ``no-decay``: no retention model at all: dynamics signals off in the
  ranker, and a budget can only drop memories at random.

    python bench/lifelog.py --out bench/results/lifelog.json --plot docs/lifelog.png
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory, Settings
from engramdb.embed import make_embedder
from engramdb.recall.ranker import AttentionRanker, RankerWeights
from engramdb.store.base import DynamicsUpdate

START = datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc)
DAYS = 366
CATEGORIES = ("important", "emotional", "reinforced", "trivial")
BUDGETS = (1.0, 0.5, 0.2)
POLICIES = ("engramdb", "recency", "no-decay")
MENTION_DAYS = (3, 10, 30, 90)
K = 5

COLOURS = [
    "teal",
    "amber",
    "crimson",
    "ivory",
    "olive",
    "navy",
    "coral",
    "mustard",
    "lilac",
    "charcoal",
    "maroon",
    "turquoise",
    "beige",
    "violet",
    "indigo",
    "scarlet",
]
THINGS = [
    "notebook",
    "umbrella",
    "scarf",
    "mug",
    "lamp",
    "stapler",
    "kettle",
    "backpack",
    "thermos",
    "candle",
    "pillow",
    "wallet",
    "keyring",
    "frame",
    "vase",
    "blanket",
    "sweater",
    "jacket",
    "pen",
    "folder",
    "basket",
    "clock",
    "mirror",
    "towel",
    "teapot",
    "bowl",
    "rug",
    "plant",
    "poster",
    "cushion",
]
SHOPS = [
    "the corner shop",
    "the hardware store",
    "the flea market",
    "the station kiosk",
    "the garden centre",
    "the charity shop",
    "the mall",
    "the pharmacy",
    "the bookshop",
    "the department store",
]
NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Leo",
    "Mara",
    "Nils",
    "Olga",
    "Pavel",
    "Rosa",
    "Sami",
    "Tilda",
    "Umar",
    "Vera",
    "Wim",
    "Yara",
    "Zoe",
]
ROOMS = ["kitchen", "hallway", "bedroom", "attic", "garage", "bathroom", "study", "cellar"]
FOODS = [
    "soup",
    "pasta",
    "a salad",
    "a sandwich",
    "noodles",
    "curry",
    "porridge",
    "toast",
    "rice",
    "a burrito",
]
PLACES = ["home", "the office", "the canteen", "a cafe", "the park", "a food truck"]
STREETS = [
    "Elm Street",
    "Oak Avenue",
    "Mill Lane",
    "Harbour Road",
    "Station Street",
    "Bridge Road",
    "Castle Hill",
    "Market Square",
    "Linden Way",
    "Quarry Lane",
    "Rose Street",
    "Canal Walk",
]
CITIES = [
    "Lisbon",
    "Porto",
    "Vienna",
    "Krakow",
    "Ghent",
    "Bergen",
    "Seville",
    "Trieste",
    "Galway",
    "Lyon",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass
class Event:
    day: int
    category: str
    text: str
    question: str = ""
    mentions: list[tuple[int, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # filled per run: the event's memory


def _important(rng: random.Random, i: int) -> tuple[str, str]:
    name, street = NAMES[i % len(NAMES)], STREETS[i % len(STREETS)]
    month, day = MONTHS[rng.randrange(12)], rng.randrange(1, 28)
    digits = f"{rng.randrange(1000, 9999)}"
    company = f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli'])} {name}son"
    options = [
        (
            f"Important: {name}'s passport number ends in {digits} and expires in {month}.",
            f"What does {name}'s passport number end in?",
        ),
        (
            f"Remember that the wifi password at the flat on {street} is {name.lower()}{digits}.",
            f"What is the wifi password at the flat on {street}?",
        ),
        (
            f"I signed the lease for the flat on {street}; the rent is {digits} a month.",
            f"How much is the rent for the flat on {street}?",
        ),
        (
            f"Don't forget: {name}'s birthday is on {month} {day}.",
            f"When is {name}'s birthday?",
        ),
        (
            f"I booked the dentist appointment with Dr {name} for {month} {day}, must not miss it.",
            f"When is my appointment with Dr {name}?",
        ),
        (
            f"I will start the new job at {company} on {month} {day}; my manager is {name}.",
            f"When do I start at {company}?",
        ),
        (
            f"Never park on {street} on Tuesdays: the car gets towed, it cost me {digits}.",
            f"What happens if I park on {street} on a Tuesday?",
        ),
        (
            f"My doctor says I am allergic to penicillin; remember to tell Dr {name}.",
            f"Which doctor must I tell about my penicillin allergy, {name} or someone else?",
        ),
    ]
    return options[i % len(options)]


def _emotional(rng: random.Random, i: int) -> tuple[str, str]:
    name, city, street = NAMES[(i * 7) % len(NAMES)], CITIES[i % len(CITIES)], rng.choice(STREETS)
    colour = COLOURS[i % 15]  # 15, not 16: the three uses of a template differ
    options = [
        (
            f"I was devastated when our old cat {name} died; I cried all night.",
            f"What happened to our cat {name}?",
        ),
        (
            f"We got engaged on the beach in {city}!!! I am so happy.",
            f"What happened on the beach in {city}?",
        ),
        (
            f"Furious: someone stole my {colour} bike outside the gym on {street}.",
            f"What happened to my {colour} bike?",
        ),
        (
            f"I was terrified when the car skidded on black ice on the road to {city}.",
            f"What frightened me on the road to {city}?",
        ),
        (
            f"So proud and thrilled: {name} won the chess final and we celebrated all night!",
            f"What did {name} win?",
        ),
        (
            f"Heartbroken: {name} and I broke up after the trip to {city}.",
            f"What happened between {name} and me after {city}?",
        ),
        (
            f"Panic! I lost my passport at the airport in {city}, an awful, awful day.",
            f"What did I lose at the airport in {city}?",
        ),
        (
            f"Shocked and scared: a fire broke out in the flat above mine on {street}.",
            f"Where was the fire, on {street}?",
        ),
    ]
    return options[i % len(options)]


def _reinforced(rng: random.Random, i: int) -> tuple[str, str, list[str]]:
    name = f"{rng.choice(['Casa', 'Chez', 'Little', 'Blue', 'Golden'])} {NAMES[i % len(NAMES)]}"
    street, dish = STREETS[(i * 5) % len(STREETS)], rng.choice(FOODS)
    price = rng.randrange(8, 40)
    text = f"Tried the restaurant {name} on {street}; the {dish} cost {price} euros."
    friend = NAMES[(i + 3) % len(NAMES)]
    mentions = [
        f"Told {friend} about {name} on {street}.",
        f"Walked past {name} on {street} again.",
        f"{friend} asked me where {name} is: {street}.",
        f"Recommended {name} on {street} to a colleague.",
    ]
    return text, f"How much did the {dish} cost at {name}?", mentions


def _trivial(rng: random.Random, obj: str) -> tuple[str, str]:
    shop, name, room = rng.choice(SHOPS), rng.choice(NAMES), rng.choice(ROOMS)
    options = [
        (f"Bought a {obj} at {shop}.", f"Where did I buy the {obj}?"),
        (f"Borrowed a {obj} from {name}.", f"Who did I borrow the {obj} from?"),
        (f"Put the {obj} in the {room} cupboard.", f"Where did I put the {obj}?"),
        (f"Saw a {obj} left on the bus seat.", f"Where did I see a {obj}?"),
    ]
    return rng.choice(options)


def _filler(rng: random.Random) -> str:
    return rng.choice(
        [
            f"Had {rng.choice(FOODS)} for lunch at {rng.choice(PLACES)}.",
            f"Took bus {rng.randrange(1, 60)} to work; "
            f"it was {rng.choice(['rainy', 'sunny', 'grey'])}.",
            f"Did the laundry and watered the plants in the {rng.choice(ROOMS)}.",
            f"Walked to {rng.choice(SHOPS)} and back.",
        ]
    )


def generate(seed: int = 7, per_category: int = 24) -> list[Event]:
    """The year: about three routine events a day plus the special ones."""
    rng = random.Random(seed)
    objects = [f"{c} {t}" for c in COLOURS for t in THINGS]
    rng.shuffle(objects)
    events: list[Event] = []
    for day in range(DAYS):
        for _ in range(3):
            if objects and rng.random() < 0.6:
                text, question = _trivial(rng, objects.pop())
                events.append(Event(day, "trivial", text, question))
            else:
                events.append(Event(day, "filler", _filler(rng)))
    special_days = rng.sample(range(5, 240), 3 * per_category)
    for i in range(per_category):
        text, question = _important(rng, i)
        events.append(Event(special_days[i], "important", text, question))
        text, question = _emotional(rng, i)
        events.append(Event(special_days[per_category + i], "emotional", text, question))
        text, question, mentions = _reinforced(rng, i)
        day = special_days[2 * per_category + i] % 150  # room for the +90 d mention
        spaced = [(day + d, m) for d, m in zip(MENTION_DAYS, mentions, strict=True)]
        events.append(Event(day, "reinforced", text, question, spaced))
    return events


def questions(events: list[Event], seed: int, per_category: int) -> list[tuple[int, Event]]:
    """(day asked, event): 30+ days after the event, in the second half of the year."""
    rng = random.Random(seed + 1)
    out = []
    by_category: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.question:
            by_category[e.category].append(e)
    for category in CATEGORIES:
        pool = [e for e in by_category[category] if e.day < 240]
        for e in rng.sample(pool, min(per_category, len(pool))):
            last = max([e.day] + [d for d, _ in e.mentions])
            out.append((rng.randrange(max(last + 30, 240), DAYS), e))
    return out


def at(day: int, hour: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour)


def replay(
    policy: str,
    budget: float,
    events: list[Event],
    asked: list[tuple[int, Event]],
    embedder: Any,
) -> dict[str, Any]:
    total = len(events) + sum(len(e.mentions) for e in events)
    namespace = "me"
    hits_by_category: dict[str, list[float]] = defaultdict(list)
    rng = random.Random(11)
    by_day: dict[int, list[tuple[Event | None, str]]] = defaultdict(list)
    for e in events:
        by_day[e.day].append((e, e.text))
        for d, mention in e.mentions:
            by_day[d].append((None, mention))
    asked_on: dict[int, list[Event]] = defaultdict(list)
    for day, e in asked:
        asked_on[day].append(e)
    reinforce = policy == "engramdb"
    with Memory(":memory:", embedder=embedder, settings=Settings(path=":memory:")) as mem:
        if policy == "no-decay":  # benchmark hook: the ranker without dynamics signals
            weights = RankerWeights.default()
            mem._recall().ranker = AttentionRanker(
                RankerWeights(
                    {k: v for k, v in weights.weights.items() if k not in DYNAMIC_SIGNALS},
                    weights.temperature,
                )
            )
        limit = int(budget * total)
        if budget < 1.0 and policy == "engramdb":
            mem.set_budget(namespace=namespace, max_memories=limit)
        for day in range(DAYS):
            items = by_day.get(day, [])
            if items:
                added = mem.add_many(
                    [
                        {"text": text, "occurred_at": at(day, 8 + i % 12)}
                        for i, (_, text) in enumerate(items)
                    ],
                    namespace=namespace,
                )
                if policy != "engramdb":
                    # benchmark hook: no model of what matters. recency: one stability
                    # for all, so R orders by age. no-decay: R = 1 for all (the curve
                    # starts at the year's end) and random importance breaks the ties,
                    # so a budget drops memories at random.
                    decays = policy == "recency"
                    mem.store.set_dynamics(
                        namespace,
                        [
                            DynamicsUpdate(
                                a.id,
                                stability_days=12.0,
                                importance=0.5 if decays else rng.random(),
                                last_recalled_at=None if decays else at(DAYS),
                            )
                            for a in added
                        ],
                    )
                    if budget < 1.0:  # the budget judged on these strengths, not engramdb's
                        mem.set_budget(namespace=namespace, max_memories=limit)
                        mem.fade(namespace=namespace, now=at(day, 23))
                        mem.set_budget(namespace=namespace)
                for (event, text), engram in zip(items, added, strict=True):
                    if event is not None:
                        event.ids = [engram.id]
                    else:  # a mention: the agent looks the event up
                        mem.search(
                            text, namespace=namespace, limit=K, now=at(day, 20), reinforce=reinforce
                        )
            for e in asked_on.get(day, []):
                hits = mem.search(
                    e.question, namespace=namespace, limit=K, now=at(day, 21), reinforce=reinforce
                )
                found = {h.engram.id for h in hits}
                hits_by_category[e.category].append(1.0 if found & set(e.ids) else 0.0)
        active = sum(1 for x in mem.store.iter_engrams(namespace) if not x.dormant)
    return {
        "recall@5": {c: sum(v) / len(v) for c, v in hits_by_category.items() if v},
        "questions": {c: len(v) for c, v in hits_by_category.items()},
        "active_at_end": active,
        "memories": total,
    }


DYNAMIC_SIGNALS = frozenset({"salience", "emotion_match"})


def plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(POLICIES), figsize=(12, 3.8), sharey=True)
    for ax, policy in zip(axes, POLICIES, strict=True):
        for category in CATEGORIES:
            ys = [results[policy][f"{int(b * 100)}%"]["recall@5"][category] for b in BUDGETS]
            ax.plot([f"{int(b * 100)}%" for b in BUDGETS], ys, marker="o", label=category)
        ax.set_title(policy)
        ax.set_xlabel("budget (share of the year's memories)")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@5")
    axes[-1].legend(loc="lower left")
    fig.suptitle("engramdb lifelog: what stays under a memory budget (bench/lifelog.py)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-category", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("bench/results/lifelog.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/lifelog.png"))
    args = parser.parse_args(argv)

    embedder = make_embedder(Settings())  # cached: each text is embedded once for all runs
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for policy in POLICIES:
        results[policy] = {}
        for budget in BUDGETS:
            events = generate(args.seed, args.per_category)
            asked = questions(events, args.seed, args.per_category)
            run = replay(policy, budget, events, asked, embedder)
            results[policy][f"{int(budget * 100)}%"] = run
            print(
                f"{policy:<9} {int(budget * 100):>3}% "
                + " ".join(f"{c} {run['recall@5'][c]:.3f}" for c in CATEGORIES)
                + f"  active {run['active_at_end']}/{run['memories']}",
                flush=True,
            )
    keep = {
        policy: {
            c: (
                results[policy]["20%"]["recall@5"][c] / results[policy]["100%"]["recall@5"][c]
                if results[policy]["100%"]["recall@5"][c]
                else 0.0
            )
            for c in CATEGORIES
        }
        for policy in POLICIES
    }
    for policy, kept in keep.items():
        print(
            f"kept at 20% / 100%: {policy:<9} " + " ".join(f"{c} {v:.2f}" for c, v in kept.items())
        )
    document = {
        "command": "python bench/lifelog.py --out bench/results/lifelog.json "
        "--plot docs/lifelog.png",
        "seed": args.seed,
        "per_category": args.per_category,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
        "kept_at_20_percent": keep,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
