"""Paired salience benchmark: salience decides near ties, never a clearly better match.

Each case is a pair of memories of one event kind ("a drive on the highway"),
added on the same day, and a question asked 1 to 365 days later. Two groups
(docs/recall.md, "Salience"):

- (a) **twins**: the two memories match the question about equally ("that
  drive on the highway") and differ only in salience, of one of three kinds:
  ``emotion`` (one tells a fright, a joy or a loss; its importance and arousal
  are what engramdb reads from the text), ``importance`` (the same kind of
  text, given ``importance`` 0.8 against 0.2) or ``recall`` (the same
  importance and emotion; one was looked up three times, at spaced intervals:
  3, 10 and 30 days after the event, and the question comes 1 to 365 days
  after the last lookup). The more salient one should rank first.
- (b) **clearly better match**: the same pairs, asked about a detail only the
  trivial one holds ("the highway drive with the podcast"). The trivial one
  should rank first.

Which of the two neutral variants gets the importance or the recalls is drawn
by coin (seeded), so a text that happens to match better wins half of its
pairs for each side; the emotional variant is its own text. Every pair lives in
its own namespace among routine memories of other days. A pair counts when the
expected memory ranks above its twin (``search(..., reinforce=False)``).

    python bench/salience.py --out bench/results/salience.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory
from engramdb.recall.ranker import AttentionRanker, RankerWeights

START = datetime(2024, 1, 8, 18, 0, tzinfo=timezone.utc)
DELAYS_DAYS = (1, 7, 30, 90, 180, 365)
KINDS = ("emotion", "importance", "recall")
#: the days after the event when the salient twin of a ``recall`` pair is looked up
RECALL_DAYS = (3, 10, 30)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One event kind: the question about it, an emotional telling, two neutral
    variants that differ in a detail, and a question about each detail."""

    topic: str
    emotional: str
    a: str
    b: str
    about_a: str
    about_b: str


SCENARIOS = [
    Scenario(
        "that drive on the highway",
        "Drove on the highway to the coast and a truck swerved into our lane, I was terrified.",
        "Drove on the highway to the coast and a truck passed us, I was listening to the radio.",
        "Drove on the highway to the coast and a bus overtook us, I was eating a sandwich.",
        "the highway drive when I listened to the radio",
        "the highway drive when I ate a sandwich",
    ),
    Scenario(
        "the dinner at the Italian restaurant",
        "Had dinner at the Italian restaurant and Sam proposed to me, I cried with joy.",
        "Had dinner at the Italian restaurant and Sam ordered the lasagna, I had the soup.",
        "Had dinner at the Italian restaurant and Sam sat by the window, I had the risotto.",
        "the Italian dinner when Sam ordered lasagna",
        "the Italian dinner when I had the risotto",
    ),
    Scenario(
        "the visit to the hospital",
        "Went to the hospital and the doctor said dad had died, I was devastated.",
        "Went to the hospital and the nurse took the forms, I paid for parking.",
        "Went to the hospital and the clerk printed a letter, I bought a coffee.",
        "the hospital visit when I paid for parking",
        "the hospital visit when I bought a coffee",
    ),
    Scenario(
        "the flight to Chicago",
        "Took the flight to Chicago and an engine caught fire, I was sure we would die.",
        "Took the flight to Chicago and the crew served pretzels, I had an aisle seat.",
        "Took the flight to Chicago and the pilot announced rain, I read a novel.",
        "the Chicago flight with pretzels and the aisle seat",
        "the Chicago flight when I read a novel",
    ),
    Scenario(
        "the walk in the park",
        "Took a walk in the park and a dog bit my son's arm, I was so scared.",
        "Took a walk in the park and a man was flying a kite, I sat on a bench.",
        "Took a walk in the park and some kids were playing frisbee, I fed the ducks.",
        "the park walk with the kite flyer",
        "the park walk when I fed the ducks",
    ),
    Scenario(
        "the meeting with my manager",
        "Had the meeting with my manager and she fired me on the spot, I was humiliated.",
        "Had the meeting with my manager and she went through the budget, I took some notes.",
        "Had the meeting with my manager and she showed the new chart, I drank some tea.",
        "the manager meeting about the budget",
        "the manager meeting with the new chart",
    ),
    Scenario(
        "the trip to the beach",
        "Went on the trip to the beach and my daughter nearly drowned, I panicked.",
        "Went on the trip to the beach and my daughter built a sandcastle, I read a magazine.",
        "Went on the trip to the beach and my daughter collected shells, I put on sunscreen.",
        "the beach trip when my daughter built a sandcastle",
        "the beach trip when my daughter collected shells",
    ),
    Scenario(
        "the phone call with my sister",
        "Had a phone call with my sister and she told me she has cancer, I am heartbroken.",
        "Had a phone call with my sister and she told me about her garden, I was cooking pasta.",
        "Had a phone call with my sister and she asked about my car, I was folding laundry.",
        "the call when my sister talked about her garden",
        "the call when my sister asked about my car",
    ),
    Scenario(
        "the concert downtown",
        "Went to the concert downtown and I met my hero backstage, I was thrilled.",
        "Went to the concert downtown and the band played two encores, I stood near the bar.",
        "Went to the concert downtown and the opener played jazz, I bought a t-shirt.",
        "the downtown concert with two encores",
        "the downtown concert when I bought a t-shirt",
    ),
    Scenario(
        "the train ride to Boston",
        "Took the train ride to Boston and a man pulled a knife on us, I was terrified.",
        "Took the train ride to Boston and the train left on time, I did a crossword.",
        "Took the train ride to Boston and the conductor checked tickets, I ate an apple.",
        "the Boston train ride when I did a crossword",
        "the Boston train ride when I ate an apple",
    ),
    Scenario(
        "the hike up the mountain",
        "Did the hike up the mountain and I slipped and nearly fell off a cliff, I was terrified.",
        "Did the hike up the mountain and it took four hours, I ate trail mix at the top.",
        "Did the hike up the mountain and we passed a hut, I refilled my water bottle.",
        "the mountain hike when I ate trail mix",
        "the mountain hike when I refilled my water bottle",
    ),
    Scenario(
        "the visit to the vet",
        "Took the cat to the vet and she had to be put down, we were devastated.",
        "Took the cat to the vet and she got her yearly shots, I waited in the lobby.",
        "Took the cat to the vet and she was weighed, I paid at the front desk.",
        "the vet visit with the yearly shots",
        "the vet visit when she was weighed",
    ),
    Scenario(
        "the bike ride along the river",
        "Went on a bike ride along the river and a car hit me and threw me off, I was terrified.",
        "Went on a bike ride along the river and the path was quiet, I stopped for a coffee.",
        "Went on a bike ride along the river and a rowing team passed by, I fixed my chain.",
        "the river bike ride when I stopped for coffee",
        "the river bike ride when I fixed my chain",
    ),
    Scenario(
        "the job interview",
        "Had the job interview and they hired me on the spot, I was overjoyed.",
        "Had the job interview and it lasted forty minutes, they asked about Excel.",
        "Had the job interview and it was on the fifth floor, they offered water.",
        "the job interview that asked about Excel",
        "the job interview on the fifth floor",
    ),
    Scenario(
        "the night at the hotel",
        "Spent the night at the hotel and a fire broke out on our floor, I was panicking.",
        "Spent the night at the hotel and the bed was firm, I ordered room service.",
        "Spent the night at the hotel and the lobby had a piano, I watched the news.",
        "the hotel night when I ordered room service",
        "the hotel night with the piano in the lobby",
    ),
    Scenario(
        "the wedding in June",
        "Went to the wedding in June and my best friend collapsed, I was terrified.",
        "Went to the wedding in June and the ceremony was outdoors, I sat at table twelve.",
        "Went to the wedding in June and the cake had three tiers, I wore a grey suit.",
        "the June wedding where I sat at table twelve",
        "the June wedding with the three tier cake",
    ),
    Scenario(
        "the doctor's appointment",
        "Had the doctor's appointment and I learned I'm pregnant, I cried with joy.",
        "Had the doctor's appointment and she checked my blood pressure, I filled in a form.",
        "Had the doctor's appointment and she renewed a prescription, I read a magazine.",
        "the appointment with the blood pressure check",
        "the appointment when she renewed a prescription",
    ),
    Scenario(
        "the storm last night",
        "The storm came last night and a tree smashed through our roof, we were terrified.",
        "The storm came last night and it rained a lot, the bin fell over in the yard.",
        "The storm came last night and the wind was loud, the lights flickered twice.",
        "the storm when the bin fell over",
        "the storm when the lights flickered",
    ),
    Scenario(
        "the soccer game",
        "Watched the soccer game and my son scored the winning goal, I screamed with joy.",
        "Watched the soccer game and it ended in a draw, I sat in the north stand.",
        "Watched the soccer game and it started late, I bought a hot dog.",
        "the soccer game that ended in a draw",
        "the soccer game when I bought a hot dog",
    ),
    Scenario(
        "the ferry crossing",
        "Took the ferry crossing and a man fell overboard, I was horrified.",
        "Took the ferry crossing and the sea was calm, I had tea in the cafe.",
        "Took the ferry crossing and the deck was busy, I looked at the gulls.",
        "the ferry crossing when I had tea in the cafe",
        "the ferry crossing when I looked at the gulls",
    ),
    Scenario(
        "the school play",
        "Went to the school play and my daughter froze and ran off crying, I was heartbroken.",
        "Went to the school play and it was about pirates, I sat in the third row.",
        "Went to the school play and it had a painted castle, I held the programme.",
        "the school play about pirates",
        "the school play with the painted castle",
    ),
    Scenario(
        "the night out in the city",
        "Had a night out in the city and I got mugged at knifepoint, I was terrified.",
        "Had a night out in the city and we went to two bars, I took a taxi home.",
        "Had a night out in the city and we tried a new club, I drank lemonade.",
        "the night out when I took a taxi home",
        "the night out when I drank lemonade",
    ),
    Scenario(
        "the camping trip",
        "Went on the camping trip and a bear came into our camp at night, I was terrified.",
        "Went on the camping trip and the tent was small, we cooked beans on the fire.",
        "Went on the camping trip and it drizzled a bit, we played cards by lamplight.",
        "the camping trip when we cooked beans",
        "the camping trip when we played cards",
    ),
    Scenario(
        "the visit to grandma",
        "Went on a visit to grandma and she didn't recognise me anymore, I was devastated.",
        "Went on a visit to grandma and she made tea, I fixed her old radio.",
        "Went on a visit to grandma and she showed me photos, I watered her plants.",
        "the visit when I fixed grandma's radio",
        "the visit when I watered grandma's plants",
    ),
    Scenario(
        "the ski trip",
        "Went on the ski trip and an avalanche buried me, I thought I would die.",
        "Went on the ski trip and the snow was icy, I rented new boots.",
        "Went on the ski trip and the lift was slow, I bought a hot chocolate.",
        "the ski trip when I rented new boots",
        "the ski trip when I bought a hot chocolate",
    ),
    Scenario(
        "the birthday party",
        "Had the birthday party at home and everyone surprised me, I was overjoyed and cried.",
        "Had the birthday party at home and there was a chocolate cake, we played board games.",
        "Had the birthday party at home and there were balloons, we ordered pizza.",
        "the birthday party when we played board games",
        "the birthday party when we ordered pizza",
    ),
    Scenario(
        "the drive home in the snow",
        "Drove home in the snow and the car spun into a ditch, I was terrified.",
        "Drove home in the snow and it took an hour, I stopped for gas.",
        "Drove home in the snow and the roads were slow, I called my brother.",
        "the snowy drive when I stopped for gas",
        "the snowy drive when I called my brother",
    ),
    Scenario(
        "the appointment at the bank",
        "Had the appointment at the bank and all my savings were stolen, I was devastated.",
        "Had the appointment at the bank and I updated my address, I waited twenty minutes.",
        "Had the appointment at the bank and I ordered a new card, I signed two forms.",
        "the bank appointment when I updated my address",
        "the bank appointment when I ordered a new card",
    ),
    Scenario(
        "the swim at the lake",
        "Went for a swim at the lake and I got a cramp and nearly drowned, I was terrified.",
        "Went for a swim at the lake and the water was clear, I dried off on the dock.",
        "Went for a swim at the lake and some kids had a raft, I swam to the buoy.",
        "the lake swim when I dried off on the dock",
        "the lake swim when I swam to the buoy",
    ),
    Scenario(
        "the graduation ceremony",
        "Went to the graduation ceremony and I won the top award, I was thrilled and proud.",
        "Went to the graduation ceremony and it was in the gym, I took photos outside.",
        "Went to the graduation ceremony and it ran long, I sat next to my uncle.",
        "the graduation in the gym with the photos",
        "the graduation when I sat next to my uncle",
    ),
]

ROUTINE = [
    "Bought groceries: milk, bread and eggs.",
    "Paid the electricity bill online.",
    "Watered the plants on the balcony.",
    "Did the laundry and folded the towels.",
    "Cleaned the kitchen after dinner.",
    "Picked up a parcel from the post office.",
    "Answered emails for an hour.",
    "Made pasta for lunch.",
    "Went for a short jog around the block.",
    "Renewed the library books online.",
    "Took out the recycling.",
    "Called the plumber about the dripping tap.",
]


@dataclass(frozen=True, slots=True)
class Pair:
    """One namespace's twins: which is salient, and the questions to ask."""

    namespace: str
    scenario: Scenario
    kind: str
    salient: str  # text
    trivial: str
    trivial_detail: str  # the (b) question: a detail only the trivial one holds


def pairs(seed: int) -> list[Pair]:
    rng = random.Random(seed)
    out = []
    for i, s in enumerate(SCENARIOS):
        for kind in KINDS:
            a_salient = rng.random() < 0.5
            if kind == "emotion":  # the emotional telling against one neutral variant
                trivial, detail = (s.b, s.about_b) if a_salient else (s.a, s.about_a)
                out.append(Pair(f"s{i}-{kind}", s, kind, s.emotional, trivial, detail))
            else:
                salient, trivial, detail = (
                    (s.a, s.b, s.about_b) if a_salient else (s.b, s.a, s.about_a)
                )
                out.append(Pair(f"s{i}-{kind}", s, kind, salient, trivial, detail))
    return out


def at(days: float) -> datetime:
    return START + timedelta(days=days)


def fill(mem: Memory, pair: Pair, namespace: str, rng: random.Random) -> tuple[str, str]:
    """The twins and routine memories of other days; returns (salient id, trivial id)."""
    routine = [
        {"text": text, "occurred_at": at(rng.uniform(-30, 30))} for text in rng.sample(ROUTINE, 8)
    ]
    mem.add_many(routine, namespace=namespace)
    if pair.kind == "importance":
        salient = mem.add(pair.salient, namespace=namespace, occurred_at=at(0), importance=0.8)
        trivial = mem.add(pair.trivial, namespace=namespace, occurred_at=at(0), importance=0.2)
    elif pair.kind == "recall":  # the same importance and label: only the history differs
        options: dict[str, Any] = {"importance": 0.5, "emotion": "neutral"}
        salient = mem.add(pair.salient, namespace=namespace, occurred_at=at(0), **options)
        trivial = mem.add(pair.trivial, namespace=namespace, occurred_at=at(0), **options)
    else:
        salient = mem.add(pair.salient, namespace=namespace, occurred_at=at(0))
        trivial = mem.add(pair.trivial, namespace=namespace, occurred_at=at(0))
    return salient.id, trivial.id


def recall(mem: Memory, namespace: str, engram_id: str, text: str) -> None:
    """Look the memory up at spaced times (a reinforcing search that finds it)."""
    for day in RECALL_DAYS:
        hits = mem.search(text, namespace=namespace, limit=1, now=at(day))
        if not hits or hits[0].engram.id != engram_id:
            raise RuntimeError(f"the lookup of {text!r} did not find it")


def first(mem: Memory, namespace: str, query: str, now: datetime, ids: tuple[str, str]) -> str:
    """Which of the two ids ranks higher for ``query``."""
    hits = mem.search(query, namespace=namespace, limit=50, now=now, reinforce=False)
    ranked = [h.engram.id for h in hits]
    rank = {i: ranked.index(i) if i in ranked else len(ranked) for i in ids}
    return min(ids, key=lambda i: rank[i])


def run(seed: int, weights: RankerWeights | None = None) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    twins = {kind: [0, 0] for kind in KINDS}  # right, asked
    better = {kind: [0, 0] for kind in KINDS}
    by_delay = {d: [0, 0] for d in DELAYS_DAYS}
    with Memory(":memory:") as mem:
        if weights is not None:
            mem._recall().ranker = AttentionRanker(weights)  # benchmark hook
        for pair in pairs(seed):
            salient, trivial = fill(mem, pair, pair.namespace, rng)
            since = 0
            if pair.kind == "recall":
                recall(mem, pair.namespace, salient, pair.salient)
                since = RECALL_DAYS[-1]
            for asked in DELAYS_DAYS:
                now = at(since + asked)
                ids = (salient, trivial)
                right = first(mem, pair.namespace, pair.scenario.topic, now, ids)
                twins[pair.kind][0] += right == salient
                twins[pair.kind][1] += 1
                by_delay[asked][0] += right == salient
                by_delay[asked][1] += 1
                right = first(mem, pair.namespace, pair.trivial_detail, now, ids)
                better[pair.kind][0] += right == trivial
                better[pair.kind][1] += 1
    return {
        "twins": _shares(twins),
        "better_match": _shares(better),
        "twins_by_delay_days": {str(d): r / n for d, (r, n) in by_delay.items()},
    }


def _shares(counts: dict[str, list[int]]) -> dict[str, float]:
    out = {kind: right / asked for kind, (right, asked) in counts.items()}
    out["all"] = sum(r for r, _ in counts.values()) / sum(n for _, n in counts.values())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--weights", type=Path, help="ranker weights JSON instead of the shipped")
    parser.add_argument("--out", type=Path, default=Path("bench/results/salience.json"))
    args = parser.parse_args(argv)
    weights = None
    if args.weights is not None:
        weights = RankerWeights.from_json(json.loads(args.weights.read_text()))
    started = time.perf_counter()
    result = run(args.seed, weights)
    print(f"{'pairs':<22} " + " ".join(f"{k:>10}" for k in (*KINDS, "all")))
    for group in ("twins", "better_match"):
        row = result[group]
        print(f"{group:<22} " + " ".join(f"{row[k]:>10.3f}" for k in (*KINDS, "all")))
    print(
        "twins by delay (days): "
        + ", ".join(f"{d} {v:.2f}" for d, v in result["twins_by_delay_days"].items())
    )
    report = {
        "command": " ".join(["python", "bench/salience.py", *(argv or sys.argv[1:])]),
        "seed": args.seed,
        "seconds": time.perf_counter() - started,
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
