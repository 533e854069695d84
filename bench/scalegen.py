"""Deterministic memories for the scale benchmark (``bench/scale.py``): many users, three years.

``generate(n, seed)`` yields ``n`` varied first-person memories, the kind an
agent keeps about the people it talks to: templates over names, places,
activities, objects, foods, jobs, pets and dates, said by one of the two
speakers of a session (sessions of 4 to 40 turns, each at its own time within
three years, turns a minute or a few apart). Every memory carries ``speaker``,
``session``, ``occurred_at`` and metadata (``ref``, the benchmark's own id;
``topic``; ``channel``); templates that carry a feeling also set ``emotion``.

The stream is one seeded ``random.Random``, so the first ``k`` memories of
``generate(n)`` are those of ``generate(k)``: a cache of their vectors grows
with the largest run and serves every smaller one.

``probes`` makes the queries that score a run: near-verbatim queries (most
words of one memory, a few dropped and lower-cased) with their source ``ref``,
and filtered variants of them (``as_of`` just after the source's event,
``emotion`` set to the source's label). ``questions`` makes question-shaped
queries with no known answer, for latency only. Nothing here touches a store.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "END",
    "START",
    "Generated",
    "Probe",
    "generate",
    "near_verbatim",
    "probes",
    "questions",
    "sample",
]

# Three years of event times, ending before the first "now" of the LoCoMo dev
# conversations (2022-11-11), so haystack distractors never lie in a question's future.
START = datetime(2019, 11, 1, tzinfo=timezone.utc)
END = datetime(2022, 11, 1, tzinfo=timezone.utc)


def _split(words: str, sep: str = "|") -> tuple[str, ...]:
    return tuple(words.split(sep))


NAMES = _split(
    "Anna Ben Clara Daniel Elena Farid Grace Hiro Ines Jonas Kavya Liam Maya Noah Olga Pavel "
    "Quinn Rosa Sami Tara Umar Vera Wen Ximena Yusuf Zoe Aisha Bruno Chloe Diego Emma Felix "
    "Gina Hugo Isla Jamal Kira Lucas Mira Nils Omar Priya Rafael Sofia Tomas Uma Victor Willa "
    "Xavier Yara Zain Alice Bob Carmen Dmitri Esther Finn Greta Hassan Ivy Jorge Keiko Leon "
    "Marta Nadia Oscar Paula Reza Selin Theo Ulla Vikram Wanda Yosef Zara Caroline Melanie "
    "John Maria Nate Joanna Tim Jon Hannah Ravi Lena Mateo Noor Aiden Beatriz Connor Dalia "
    "Emil Fatima Gabriel Helga Ibrahim Julia Kenji Lucia Malik Nora Orla Pablo Rania Stefan",
    " ",
)
CITIES = _split(
    "Lisbon|Porto|Kyoto|Osaka|Montreal|Vancouver|Edinburgh|Dublin|Prague|Vienna|Krakow|"
    "Seville|Valencia|Naples|Bologna|Marseille|Lyon|Ghent|Utrecht|Hamburg|Munich|Zurich|"
    "Copenhagen|Bergen|Tallinn|Riga|Athens|Istanbul|Marrakesh|Cape Town|Nairobi|Hanoi|"
    "Seoul|Taipei|Melbourne|Auckland|Santiago|Lima|Bogota|Mexico City|Austin|Chicago|"
    "Boston|Seattle|Denver|New Orleans|Reykjavik|Oslo|Helsinki|Budapest"
)
PLACES = _split(
    "the climbing gym|Riverside Park|the farmers market|the public library|the lake|"
    "the old harbour|the community garden|the bowling alley|the art museum|the jazz bar|"
    "the swimming pool|the botanical garden|the night market|the ice rink|the dog park|"
    "the pottery studio|the cinema on Elm Street|the bakery round the corner|the beach|"
    "the hiking trail by the reservoir|the football pitch|the yoga studio|the food hall|"
    "the science centre|the flea market|the tennis club|the chess cafe|the rooftop bar|"
    "the aquarium|the concert hall|the skate park|the vineyard|the ramen place downtown"
)
ACTIVITIES = _split(
    "bouldering|kayaking|a pottery class|salsa dancing|trail running|birdwatching|"
    "a cooking class|rock climbing|stand-up paddling|a board game night|karaoke|"
    "a photography walk|cycling|volunteering at the shelter|ice skating|a pub quiz|"
    "a woodworking course|horse riding|scuba diving|a charity run|camping|fishing|"
    "a wine tasting|an escape room|a sketching workshop|tennis|badminton|a book club meeting|"
    "yoga|a salsa night|a film festival|snowboarding|sailing lessons|a hackathon"
)
OBJECTS = _split(
    "a vintage camera|a blue ceramic mug|a second-hand bicycle|a mechanical keyboard|"
    "a wool scarf|a pair of hiking boots|a record player|a cast-iron pan|a telescope|"
    "a sourdough starter|a leather notebook|a pair of headphones|an electric kettle|"
    "a standing desk|a watercolour set|a tent|a ukulele|a drone|a houseplant called Fred|"
    "a chess set|a rice cooker|a fountain pen|a yoga mat|a board game about trains|"
    "a polaroid camera|a bread machine|a pair of skis|a guitar amp|an e-reader|"
    "an espresso machine|a rain jacket|a sewing machine|a jigsaw puzzle of Venice"
)
FOODS = _split(
    "pad thai|ramen|dumplings|paella|tacos al pastor|shakshuka|pho|lasagne|sushi|"
    "butter chicken|falafel|pierogi|moussaka|bibimbap|ceviche|risotto|jollof rice|"
    "goulash|empanadas|banh mi|lemon tart|cinnamon buns|tiramisu|baklava|churros"
)
JOBS = _split(
    "nurse|software engineer|teacher|architect|paramedic|chef|graphic designer|"
    "accountant|physiotherapist|journalist|electrician|data analyst|pharmacist|"
    "veterinarian|product manager|carpenter|lawyer|barista|translator|pilot"
)
COMPANIES = _split(
    "a small startup|the city hospital|a design agency|the local newspaper|a bank|"
    "a logistics firm|the university|a game studio|a solar company|a bakery chain|"
    "a law firm|an airline|a bike shop|a museum|a charity"
)
PETS = _split("dog|cat|rabbit|parrot|hamster|tortoise|goldfish|ferret|guinea pig|gecko")
PET_NAMES = _split(
    "Biscuit Pepper Luna Mochi Olive Ziggy Waffles Maple Pickles Nala Rocket Bean Tofu "
    "Clover Pixel Noodle Sushi Hazel Juniper Gizmo",
    " ",
)
RELATIONS = _split(
    "sister|brother|cousin|neighbour|colleague|aunt|uncle|best friend|roommate|"
    "grandmother|grandfather|niece|nephew|mentor|partner"
)
BOOKS = _split(
    "a novel about lighthouse keepers|a biography of Ada Lovelace|a history of the Silk Road|"
    "a thriller set in Oslo|a cookbook of Persian dishes|a memoir by a mountain guide|"
    "a collection of short stories from Lagos|a book on urban gardening|"
    "a science fiction trilogy about Mars|a guide to birdsong|a book about habits"
)
INSTRUMENTS = _split("piano|violin|drums|cello|bass guitar|saxophone|flute|trumpet|harp|banjo")
SKILLS = _split(
    "Spanish|Japanese|knitting|sourdough baking|coding in Rust|woodcarving|sign language|"
    "calligraphy|chess openings|first aid|welding|public speaking"
)
TEAMS = _split("the Rovers|the Harriers|the Falcons|the Otters|the Comets|the Wolves")
WEEKDAYS = _split("Monday Tuesday Wednesday Thursday Friday Saturday Sunday", " ")
MONTHS = _split(
    "January February March April May June July August September October November December",
    " ",
)
CHANNELS = ("chat", "chat", "chat", "voice", "email", "note")

# (topic, emotion label or None, template); slots: {other} (the other speaker),
# {name}, {name2}, {city}, {place}, {activity}, {object}, {food}, {job}, {company},
# {pet}, {petname}, {relation}, {book}, {instrument}, {skill}, {team}, {day},
# {month}, {date} (a day before the memory), {time}, {num}, {price}
TEMPLATES: tuple[tuple[str, str | None, str], ...] = (
    ("outing", None, "I went {activity} at {place} with {name} on {date}."),
    ("outing", "joy", "{name} and I tried {activity} in {city} on {date} and I loved it."),
    ("outing", None, "We're meeting {name} at {place} at {time} on {day} for {activity}."),
    ("travel", None, "I booked flights to {city} for {price}, leaving on {date} with {name}."),
    ("travel", "joy", "My trip to {city} with my {relation} {name} was amazing, we ate {food}."),
    ("travel", "sadness", "Our trip to {city} on {date} got cancelled because {name} was ill."),
    ("travel", None, "{name} recommended a hostel near {place} in {city} for {price} a night."),
    ("gift", None, "{name} gave me {object} for my birthday on {date}, from {city}."),
    ("gift", None, "I'm buying {object} for my {relation} {name}, it costs about {price}."),
    ("gift", "surprise", "{name} showed up at {place} on {date} with {object}!"),
    ("work", None, "My {relation} {name} just started as a {job} at {company} in {city}."),
    ("work", "fear", "I have a review with {name} on {date} at {time} and I'm really nervous."),
    (
        "work",
        "joy",
        "{name} got promoted to senior {job} at {company} after {num} years, on {date}.",
    ),
    ("work", "anger", "{name} took credit for my {skill} report at {company} on {date}."),
    ("work", None, "{name}'s team at {company} is moving offices to {city} on {date}."),
    ("food", None, "We had {food} at {place} with {name} and split the bill, {price}."),
    ("food", None, "My {relation} {name} taught me how to make {food} on {date}."),
    (
        "food",
        "disgust",
        "The {food} {name} ordered at {place} in {city} was cold and far too salty.",
    ),
    ("food", None, "{name} is allergic to peanuts, so no {food} with satay at {place} on {date}."),
    ("pets", None, "{name}'s {pet} {petname} is {num} years old and still loves {place}."),
    ("pets", "sadness", "{petname}, {name}'s {pet}, had to go to the vet on {date} at {time}."),
    ("pets", "joy", "{name} adopted a {pet} called {petname} from the shelter on {date}."),
    (
        "hobby",
        None,
        "I've been learning {instrument} with {name} at {place} every {day} at {time}.",
    ),
    (
        "hobby",
        None,
        "{name} and I started a course in {skill}; the next class is at {place} on {date}.",
    ),
    (
        "hobby",
        "joy",
        "I finished reading {book} at {place} on {date} and {name} wants to borrow it.",
    ),
    ("hobby", None, "{name} lent me {book} at {place}; I promised to give it back by {date}."),
    (
        "hobby",
        None,
        "Our band played {num} songs at {place} on {date}, {name} was on {instrument}.",
    ),
    ("sport", "joy", "{team} won {num} to 1 on {date} and {name} and I celebrated at {place}."),
    (
        "sport",
        "sadness",
        "{team} lost the final on {date} and {name} didn't speak all evening at {place}.",
    ),
    ("sport", None, "{name} ran {num} kilometres along {place} in {city} on {date}."),
    ("health", "fear", "{name} has a dentist appointment on {date} at {time} and is dreading it."),
    (
        "health",
        None,
        "My {relation} {name} is recovering well after the surgery in {city} on {date}.",
    ),
    ("health", None, "{name} told me on {date} they've been doing {activity} to deal with stress."),
    ("home", None, "We painted {name}'s living room on {date} and the paint cost {price}."),
    (
        "home",
        "anger",
        "The landlord still hasn't fixed {name}'s heating in {city}; I called on {date}.",
    ),
    ("home", None, "{name} is moving to a flat near {place} in {city} on {date}; rent is {price}."),
    ("home", None, "{name} is looking after {petname} while I'm in {city} from {date}."),
    ("family", "joy", "My {relation} {name} is getting married in {city} on {date}!"),
    ("family", None, "{name}'s kids are {num} and {num2} now, both play {instrument} at {place}."),
    (
        "family",
        "sadness",
        "It's a year since my {relation} {name} passed away in {city}, on {date}.",
    ),
    ("plans", None, "Remind me to call {name} about {activity} before {date} at {time}."),
    ("plans", None, "I need to return {object} to {name} by {date}, it cost {price}."),
    ("plans", None, "{other}, can you book {place} for {num} people on {date} at {time}?"),
    (
        "opinion",
        None,
        "Honestly I prefer {food} to {food2}, and {name} thinks so too since {date}.",
    ),
    (
        "opinion",
        None,
        "{name} says {city} is better than {city2} for a weekend, and {name2} agrees.",
    ),
    ("money", None, "I owe {name} {price} for the {team} tickets on {date}."),
    ("money", "surprise", "I found {price} in an old coat pocket at {place} on {date}!"),
)


@dataclass(frozen=True, slots=True)
class Generated:
    """One memory: ``item`` goes to ``Memory.add_many`` as it is."""

    index: int
    ref: str
    item: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Probe:
    """A query and what it must find: ``ref`` in the top 10 (None: latency only)."""

    query: str
    ref: str | None
    kind: str  # "verbatim", "as_of", "emotion" or "question"
    index: int = -1  # the source memory's position in the stream
    as_of: datetime | None = None
    emotion: str | None = None


def generate(n: int, seed: int = 0) -> Iterator[Generated]:
    """The first ``n`` memories of the stream for ``seed``."""
    rng = random.Random(seed)
    span_s = (END - START).total_seconds()
    index = session = 0
    while index < n:
        length = rng.randint(4, 40)
        speakers = rng.sample(NAMES, 2)
        at = START + timedelta(seconds=rng.uniform(0, span_s - 86_400))
        label = f"s{session:07d}"
        channel = rng.choice(CHANNELS)
        for _ in range(min(length, n - index)):
            at += timedelta(seconds=rng.randint(20, 600))
            turn = rng.randrange(2)
            topic, emotion, template = rng.choice(TEMPLATES)
            text = template.format_map(_slots(rng, at, speakers[1 - turn]))
            ref = f"m{index:07d}"
            item: dict[str, Any] = {
                "text": text,
                "speaker": speakers[turn],
                "session": label,
                "occurred_at": at,
                "metadata": {"ref": ref, "topic": topic, "channel": channel},
            }
            if emotion is not None:
                item["emotion"] = emotion
            yield Generated(index, ref, item)
            index += 1
        session += 1


def _slots(rng: random.Random, at: datetime, other: str) -> dict[str, str]:
    day = at - timedelta(days=rng.randint(1, 20))
    return {
        "other": other,
        "name": rng.choice(NAMES),
        "name2": rng.choice(NAMES),
        "city": rng.choice(CITIES),
        "city2": rng.choice(CITIES),
        "place": rng.choice(PLACES),
        "activity": rng.choice(ACTIVITIES),
        "object": rng.choice(OBJECTS),
        "food": rng.choice(FOODS),
        "food2": rng.choice(FOODS),
        "job": rng.choice(JOBS),
        "company": rng.choice(COMPANIES),
        "pet": rng.choice(PETS),
        "petname": rng.choice(PET_NAMES),
        "relation": rng.choice(RELATIONS),
        "book": rng.choice(BOOKS),
        "instrument": rng.choice(INSTRUMENTS),
        "skill": rng.choice(SKILLS),
        "team": rng.choice(TEAMS),
        "day": rng.choice(WEEKDAYS),
        "month": rng.choice(MONTHS),
        "date": f"{day.day} {MONTHS[day.month - 1]}",
        "time": f"{rng.randint(7, 21)}:{rng.choice(('00', '15', '30', '45'))}",
        "num": str(rng.randint(2, 12)),
        "num2": str(rng.randint(2, 12)),
        "price": f"{rng.randint(5, 400)} euros",
    }


def near_verbatim(text: str, rng: random.Random) -> str:
    """Most words of ``text``: about one in six dropped (at least one), lower case, no
    trailing punctuation: what someone types who half-remembers the sentence."""
    words = text.rstrip(".!?").split()
    drop = set(rng.sample(range(len(words)), max(1, len(words) // 6)))
    return " ".join(w for i, w in enumerate(words) if i not in drop).lower()


def sample(n: int, k: int, seed: int = 0) -> list[int]:
    """``k`` positions of a stream of ``n`` (sorted): the pool ``probes`` picks from,
    small enough to keep while a million memories stream past."""
    return sorted(random.Random(f"sample:{seed}:{n}").sample(range(n), min(k, n)))


def probes(
    memories: Sequence[Generated], count: int, seed: int = 0, *, filtered: int = 0
) -> list[Probe]:
    """``count`` near-verbatim probes of memories picked from ``memories`` (all of a
    store's memories, or a ``sample`` of them), and ``filtered`` more of each filtered
    kind (as_of, emotion), deterministic for ``seed``."""
    rng = random.Random(f"probes:{seed}")
    picked = rng.sample(range(len(memories)), min(count, len(memories)))
    out = [
        Probe(near_verbatim(m.item["text"], rng), m.ref, "verbatim", m.index)
        for m in (memories[i] for i in picked)
    ]
    for i in rng.sample(range(len(memories)), min(filtered, len(memories))):
        m = memories[i]
        at = m.item["occurred_at"] + timedelta(hours=1)
        out.append(Probe(near_verbatim(m.item["text"], rng), m.ref, "as_of", m.index, as_of=at))
    labelled = [i for i, m in enumerate(memories) if "emotion" in m.item]
    for i in rng.sample(labelled, min(filtered, len(labelled))):
        m = memories[i]
        query = near_verbatim(m.item["text"], rng)
        out.append(Probe(query, m.ref, "emotion", m.index, emotion=m.item["emotion"]))
    return out


QUESTIONS = (
    "when did I go {activity} with {name}?",
    "what did {name} give me for my birthday?",
    "where does my {relation} work?",
    "what is the name of {name}'s {pet}?",
    "how much was the hostel in {city}?",
    "who is learning {instrument}?",
    "when is the trip to {city}?",
    "what did we eat at {place}?",
    "did {team} win on {day}?",
    "what book did {name} lend me?",
    "which restaurant did {name} recommend in {city}?",
    "what am I nervous about this week?",
)


def questions(count: int, seed: int = 0) -> list[Probe]:
    """Question-shaped queries over the same vocabulary, with no known answer."""
    rng = random.Random(f"questions:{seed}")
    return [
        Probe(rng.choice(QUESTIONS).format_map(_slots(rng, END, "")), None, "question")
        for _ in range(count)
    ]
