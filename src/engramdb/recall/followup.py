"""Follow-up questions: resolve a query's pronouns and anaphors against the conversation.

"When did she go to that?" means something only after "Tell me about Caroline
and the LGBTQ support group." ``resolve`` rewrites the query for the lexical,
dense and speaker signals in two steps (docs/context.md):

1. **People.** The most recently named person takes the place of a
   third-person pronoun ("she" -> "Caroline", "her sister" -> "Caroline's
   sister"). Speaker awareness: a person named in the latest turn wins over
   that turn's speaker, who wins over older turns ("Melanie: how is
   Caroline?" makes "she" Caroline; "Caroline: I went hiking" makes it
   Caroline too); in one turn a known speaker of the namespace wins over
   other capitalised words, which may be places or titles ("the Harry Potter
   trivia"). No gender or number agreement: any of she, he, they and their
   object and possessive forms take the latest person; first person ("I",
   "my") is left alone.
2. **Things.** An anaphor that points at a thing ("that", "this", "it",
   "its", "those", "these", locative "there", "that one", "the same one",
   "the other one") is replaced by the context's *topic*: the salient phrase
   of the newest turn that has one. A demonstrative before a noun ("that
   trip") takes the topic in front of the noun, or the topic phrase that
   contains the noun when one does ("that trip" after "the camping trip to
   the mountains" reads "camping trip"). Phrases are maximal runs of content
   words (no stopwords, people, time words or numbers, nor words about the
   conversation itself such as "tell" or "talk"); a run right after a
   determiner, possessive or preposition (a noun phrase) is preferred, then
   the rarest (``rarity``: the recaller passes the namespace's IDF), then the
   latest (new information comes last). A phrase whose words the query
   already has is not its referent. "The other one" takes the second
   phrase. What is not an anaphor: "that" before a pronoun or determiner
   ("said that she ...") or after a noun ("the book that ..."), existential
   "there" ("is there", "there was").

Topic continuity beyond the rewrite is the recaller's: it embeds the context
itself, and its cosine with each memory is the ``context_dense`` signal.
Pure functions, no store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engramdb.recall.lexical import analyze
from engramdb.recall.text import STOPWORDS, fold
from engramdb.recall.when import month_words

__all__ = ["Resolution", "Turn", "parse_turn", "referent", "resolve", "topics"]

# A word list reads better as prose (text.py does the same).
# ruff: noqa: SIM905

_SUBJECT_OBJECT = frozenset({"she", "he", "they", "him", "them"})
_POSSESSIVE = frozenset({"his", "their", "hers", "theirs"})
# "her" is an object ("tell her") or a possessive ("her sister"): possessive when a
# word that can follow a determiner comes next.
_NOT_A_NOUN = frozenset(
    """
    a an the and or but to of in on at for from with about by as than that this if when so
    do does did is was be been have has had not
    """.split()
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
_LABEL = re.compile(r"^\s*([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2})\s*:\s+(\S.*)$", re.S)
# Capitalised words that are not people.
_NOT_PEOPLE = frozenset(
    """
    i i'm i've i'd i'll tell what when where who why how which did does do is was are were
    the a an and but so yes no ok okay hi hello hey thanks thank please my our your its
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december today yesterday tomorrow
    she he they her him them his their it this that these those there here
    """.split()
)

# -- things: anaphors and the phrases they point at ---------------------------------

_TOKEN = re.compile(r"[^\W_][\w'\u2019+&-]*")
# Words that end a topic phrase besides stopwords: times and talk about the talk.
_TIME = month_words() | frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday yesterday today tonight
    tomorrow ago recently lately earlier later now soon sometime someday week weeks weekend
    weekends month months year years day days night nights morning afternoon evening summer
    winter spring autumn last next past previous coming
    """.split()
)
_DISCOURSE = frozenset(
    """
    tell told telling talk talked talking know knew think thought remember say said ask
    asked mention mentioned hear heard speak spoke wonder guess mean meant let please thanks
    thank sure really well yeah yep nope great nice cool awesome amazing wow glad sounds
    sound like liked love loved
    """.split()
)
# A run of content words right after one of these is a noun phrase.
_MARKERS = frozenset(
    """
    the a an this that these those some any another every each my your his her our their its
    about for with from of at on in into to by during after before over under through
    around near across without
    """.split()
)
# "that" followed by one of these starts a clause ("said that she went").
_CLAUSE = frozenset(
    """
    i you he she we they it the a an my your his her our their this that these those there
    someone somebody everyone
    """.split()
)
_DEMONSTRATIVE = frozenset({"that", "this", "those", "these"})
_BE = frozenset(
    """
    is was are were be been being 's will would could should might must may can has have had
    seems seem seemed used
    """.split()
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation so far: who said it (when known) and what."""

    text: str
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A query with its pronouns and anaphors replaced: ``person`` is who its
    pronouns were taken to mean, ``topic`` the context phrase its anaphors were."""

    text: str
    person: str | None
    replaced: int
    topic: str | None = None


def parse_turn(raw: str) -> Turn:
    """A context string as a turn: ``"Caroline: I went hiking"`` names its speaker."""
    match = _LABEL.match(raw)
    if match and match.group(1).lower() not in _NOT_PEOPLE:
        return Turn(text=match.group(2).strip(), speaker=match.group(1))
    return Turn(text=raw.strip())


def _mentions(text: str, known: Iterable[str]) -> list[tuple[int, str]]:
    """(position, name) of every person named in ``text``: known names in any case,
    then other capitalised words when not the first word of a sentence."""
    lowered = {fold(k) for k in known if k}  # "jose" names "José", as in recall.features
    found: list[tuple[int, str]] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.endswith(("'s", "\u2019s")):
            word = word[:-2]
        low = fold(word)
        if low in lowered:
            found.append((match.start(), word[:1].upper() + word[1:]))
    others: list[tuple[int, str]] = []
    for match in _NAME.finditer(text):
        word, low = match.group(0), fold(match.group(0))
        if low in lowered or low in _NOT_PEOPLE:
            continue
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\"'“":
            continue  # sentence-initial: capitalised for grammar, not as a name
        others.append((match.start(), word))
    return sorted(others) + sorted(found)


def referent(turns: Sequence[Turn], known: Iterable[str] = ()) -> str | None:
    """The person a third-person pronoun most likely means: the latest one named.

    Latest turn first; in a turn, the last known speaker mentioned, else the
    last other name, else the turn's speaker (someone talking about
    themselves is "she" to the next speaker).
    """
    names = list(known)
    for turn in reversed(turns):
        mentioned = _mentions(turn.text, names)
        if mentioned:
            return mentioned[-1][1]
        if turn.speaker:
            return turn.speaker.split()[0]
    return None


def resolve(
    query: str,
    turns: Sequence[Turn],
    known: Iterable[str] = (),
    rarity: Callable[[str], float] | None = None,
) -> Resolution:
    """``query`` with third-person pronouns replaced by the context's latest person
    and anaphors of things by the context's topic (module docstring).

    Pronouns after a person the query names itself are left as they are
    ("What did Anna say about her?"). ``rarity`` scores a word's
    informativeness (higher: rarer) to choose between phrases of one turn;
    without it the latest phrase wins.
    """
    names = list(known)
    if not turns:
        return Resolution(query, None, 0)
    named = _mentions(query, names)
    person = referent(turns, names)
    before = min(p for p, _ in named) if named else len(query)
    text, replaced = (query, 0) if person is None else _people(query, person, before)
    if not replaced:
        person = None
    people = {fold(n) for n in names} | ({fold(person)} if person else set())
    text, things, topic = _things(text, turns, people, rarity)
    return Resolution(text, person, replaced + things, topic)


def _people(query: str, person: str, before: int) -> tuple[str, int]:
    """``query`` with the pronouns that start before ``before`` taken to mean ``person``."""
    words = [w for w in _WORD.finditer(query) if w.start() < before]
    out: list[str] = []
    last = 0
    replaced = 0
    for i, match in enumerate(words):
        low = match.group(0).lower()
        if low in _SUBJECT_OBJECT:
            new = person
        elif low in _POSSESSIVE:
            new = f"{person}'s"
        elif low == "her":
            following = words[i + 1].group(0).lower() if i + 1 < len(words) else ""
            gap = query[match.end() : words[i + 1].start()] if i + 1 < len(words) else ""
            possessive = following and following not in _NOT_A_NOUN and gap.strip() == ""
            new = f"{person}'s" if possessive else person
        else:
            continue
        out.append(query[last : match.start()])
        out.append(new)
        last = match.end()
        replaced += 1
    out.append(query[last:])
    return "".join(out), replaced


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str
    terms: frozenset[str]  # stemmed, as the lexical index reads them
    noun: bool  # right after a determiner, possessive or preposition
    rarity: float
    position: int


def _base(token: str) -> str:
    return re.split(r"['\u2019]", fold(token))[0]


def _phrases(text: str, people: set[str], rarity: Callable[[str], float] | None) -> list[_Phrase]:
    """The maximal runs of content words of one turn, in text order."""
    tokens = list(_TOKEN.finditer(text))

    def content(i: int) -> bool:
        word = tokens[i].group(0)
        base = _base(word)
        return not (
            base in STOPWORDS
            or base in _TIME
            or base in _DISCOURSE
            or base in people
            or any(c.isdigit() for c in word)
        )

    def joined(i: int) -> bool:  # tokens i-1 and i with only spaces between
        return i > 0 and text[tokens[i - 1].end() : tokens[i].start()].isspace()

    found: list[_Phrase] = []
    i = 0
    while i < len(tokens):
        if not content(i):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and content(j + 1) and joined(j + 1):
            j += 1
        marker = tokens[i - 1].group(0).lower() if joined(i) else ""
        owner = (
            marker.endswith(("'s", "\u2019s"))
            and _base(marker) not in STOPWORDS | _NOT_PEOPLE
            and (_base(marker) in people or tokens[i - 1].group(0)[0].isupper())
        )
        # "John's car" keeps its owner: "it" then means the car, and whose
        phrase = text[tokens[i - 1 if owner else i].start() : tokens[j].end()]
        words = [t.group(0) for t in tokens[i : j + 1]]
        found.append(
            _Phrase(
                text=phrase,
                terms=frozenset(analyze(phrase)),
                noun=owner or marker in _MARKERS,
                rarity=max((rarity(w) for w in words), default=0.0) if rarity else 0.0,
                position=tokens[i].start(),
            )
        )
        i = j + 1
    return found


def topics(
    turns: Sequence[Turn],
    people: Iterable[str] = (),
    rarity: Callable[[str], float] | None = None,
    *,
    besides: str = "",
) -> list[str]:
    """The context's phrases an anaphor may mean, most salient first: the newest
    turn's (noun phrases first, then the rarest, then the latest), then older
    turns'. Phrases all of whose words ``besides`` already has are left out."""
    lowered = {fold(p) for p in people}
    said = set(analyze(besides))
    ranked: list[str] = []
    for turn in reversed(turns):
        phrases = [
            p for p in _phrases(turn.text, lowered, rarity) if p.terms and not p.terms <= said
        ]
        phrases.sort(key=lambda p: (p.noun, p.rarity, p.position), reverse=True)
        ranked += [p.text for p in phrases if p.text not in ranked]
    return ranked


@dataclass(frozen=True, slots=True)
class _Anaphor:
    start: int
    end: int
    other: bool = False  # "the other one": the second phrase
    noun: str = ""  # "that trip": the noun it goes with


def _anaphors(query: str) -> list[_Anaphor]:
    """Where ``query`` points at a thing of the context (module docstring)."""
    tokens = list(_TOKEN.finditer(query))
    lows = [t.group(0).lower() for t in tokens]

    def joined(i: int) -> bool:  # tokens i-1 and i with only spaces between
        return 0 < i < len(tokens) and query[tokens[i - 1].end() : tokens[i].start()].isspace()

    def noun(i: int) -> bool:  # token i continues a noun phrase
        return joined(i) and _base(lows[i]) not in STOPWORDS and not tokens[i].group(0)[0].isupper()

    def clause(i: int) -> bool:
        """Whether "that" at i starts a clause ("said that she ...": a subject
        follows) or is a relative pronoun ("the book that inspired her": a
        content word before it, and no preposition after it, unlike "describe
        that for me")."""
        if lows[i] != "that" or not joined(i + 1) or lows[i + 1] in ("one", "ones"):
            return False
        if lows[i + 1] in _CLAUSE or tokens[i + 1].group(0)[0].isupper():
            return True
        return joined(i) and _base(lows[i - 1]) not in STOPWORDS and lows[i + 1] not in _MARKERS

    found: list[_Anaphor] = []
    i = 0
    while i < len(tokens):
        low = lows[i]
        one = joined(i + 1) and lows[i + 1] in ("one", "ones")
        end = tokens[i + 1].end() if one else tokens[i].end()
        if low in ("same", "other") and joined(i) and lows[i - 1] == "the":
            if one or not noun(i + 1):  # not "the other book": a noun of its own
                found.append(_Anaphor(tokens[i - 1].start(), end, other=low == "other"))
        elif low in _DEMONSTRATIVE and not clause(i):
            if one or not noun(i + 1):
                found.append(_Anaphor(tokens[i].start(), end))
            else:
                found.append(_Anaphor(tokens[i].start(), tokens[i + 1].end(), noun=lows[i + 1]))
                one = True  # the noun is taken
        elif low in ("it", "its", "it's", "it\u2019s") or (
            low == "there"
            and not (joined(i + 1) and lows[i + 1] in _BE)
            and not (joined(i) and lows[i - 1] in _BE)
        ):
            found.append(_Anaphor(tokens[i].start(), tokens[i].end()))
        i += 2 if one else 1
    return found


def _things(
    query: str, turns: Sequence[Turn], people: set[str], rarity: Callable[[str], float] | None
) -> tuple[str, int, str | None]:
    """``query`` with anaphors of things replaced by context phrases."""
    anaphors = _anaphors(query)
    ranked = topics(turns, people, rarity, besides=query) if anaphors else []
    if not ranked:
        return query, 0, None
    out: list[str] = []
    last = 0
    used: str | None = None
    for anaphor in anaphors:
        phrase = ranked[1] if anaphor.other and len(ranked) > 1 else ranked[0]
        if anaphor.noun:  # "that trip": the phrase with "trip" in it, else "<topic> trip"
            stem = set(analyze(anaphor.noun))
            having = [p for p in ranked if stem and stem <= set(analyze(p))]
            phrase = having[0] if having else f"{phrase} {anaphor.noun}"
        out += [query[last : anaphor.start], phrase]
        last = anaphor.end
        used = used or phrase
    out.append(query[last:])
    return "".join(out), len(anaphors), used
