"""Follow-up questions: resolve a query's pronouns and anaphors against the conversation.

"When did she go to that?" means something only after "Tell me about Caroline
and the LGBTQ support group." ``resolve`` rewrites the query for the lexical,
dense and speaker signals in two steps (docs/context.md):

1. **People** (``recall.people``). A third-person pronoun takes the place
   of the person the context is about: the latest third person named, not
   the context's speaker ("Melanie: How is Caroline doing?" / "Melanie: I
   heard she has big plans." make "she" Caroline), a group for "they" ("Jon
   and Gina"), gender learnt from the context's own pronouns ("she" ->
   "Caroline", "her sister" -> "Caroline's sister").
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
from engramdb.recall.people import NOT_PEOPLE, Turn, parse_turn, referent, rewrite_people
from engramdb.recall.text import STOPWORDS, fold
from engramdb.recall.when import month_words

__all__ = ["Resolution", "Turn", "parse_turn", "referent", "resolve", "topics"]

# A word list reads better as prose (text.py does the same).
# ruff: noqa: SIM905

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
class Resolution:
    """A query with its pronouns and anaphors replaced: ``person`` is who its
    pronouns were taken to mean, ``topic`` the context phrase its anaphors were."""

    text: str
    person: str | None
    replaced: int
    topic: str | None = None


def resolve(
    query: str,
    turns: Sequence[Turn],
    known: Iterable[str] = (),
    rarity: Callable[[str], float] | None = None,
) -> Resolution:
    """``query`` with third-person pronouns replaced by the person the context is
    about and anaphors of things by the context's topic (module docstring).

    ``rarity`` scores a word's
    informativeness (higher: rarer) to choose between phrases of one turn;
    without it the latest phrase wins.
    """
    names = list(known)
    if not turns:
        return Resolution(query, None, 0)
    text, replaced, first = rewrite_people(query, turns, names)
    people = {fold(n) for n in names} | ({fold(first)} if first else set())
    text, things, topic = _things(text, turns, people, rarity)
    return Resolution(text, first, replaced + things, topic)


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
            and _base(marker) not in STOPWORDS | NOT_PEOPLE
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
