"""Follow-up questions: resolve a query's pronouns against the conversation so far.

"When did she go to the support group?" means something only after "Tell me
about Caroline." ``resolve`` rewrites the query for the lexical and speaker
signals by putting the most recently named person in place of a third-person
pronoun ("she" -> "Caroline", "her sister" -> "Caroline's sister"); the
recaller also embeds the context itself, and its cosine with each memory is
the ``context_dense`` signal (topic continuity, which is what carries "that
trip" or "the other one"). Speaker awareness: a person named in the latest
turn wins over that turn's speaker, who wins over older turns ("Melanie: how
is Caroline?" makes "she" Caroline; "Caroline: I went hiking" makes it
Caroline too). No gender or number agreement is attempted: any of she, he,
they and their object and possessive forms take the latest person; first
person ("I", "my") is left alone. Pure functions, no store (issue 9).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Resolution", "Turn", "parse_turn", "referent", "resolve"]

_SUBJECT_OBJECT = frozenset({"she", "he", "they", "him", "them"})
_POSSESSIVE = frozenset({"his", "their", "hers", "theirs"})
# "her" is an object ("tell her") or a possessive ("her sister"): possessive when a
# word that can follow a determiner comes next.
_NOT_A_NOUN = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "about",
        "by",
        "as",
        "than",
        "that",
        "this",
        "if",
        "when",
        "so",
        "do",
        "does",
        "did",
        "is",
        "was",
        "be",
        "been",
        "have",
        "has",
        "had",
        "not",
    ]
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
_LABEL = re.compile(r"^\s*([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,2})\s*:\s+(\S.*)$", re.S)
# Capitalised words that are not people.
_NOT_PEOPLE = frozenset(
    [
        "i",
        "i'm",
        "i've",
        "i'd",
        "i'll",
        "tell",
        "what",
        "when",
        "where",
        "who",
        "why",
        "how",
        "which",
        "did",
        "does",
        "do",
        "is",
        "was",
        "are",
        "were",
        "the",
        "a",
        "an",
        "and",
        "but",
        "so",
        "yes",
        "no",
        "ok",
        "okay",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "please",
        "my",
        "our",
        "your",
        "its",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "today",
        "yesterday",
        "tomorrow",
        "she",
        "he",
        "they",
        "her",
        "him",
        "them",
        "his",
        "their",
        "it",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
    ]
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation so far: who said it (when known) and what."""

    text: str
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A query with its pronouns replaced; ``person`` is who they were taken to mean."""

    text: str
    person: str | None
    replaced: int


def parse_turn(raw: str) -> Turn:
    """A context string as a turn: ``"Caroline: I went hiking"`` names its speaker."""
    match = _LABEL.match(raw)
    if match and match.group(1).lower() not in _NOT_PEOPLE:
        return Turn(text=match.group(2).strip(), speaker=match.group(1))
    return Turn(text=raw.strip())


def _mentions(text: str, known: Iterable[str]) -> list[tuple[int, str]]:
    """(position, name) of every person named in ``text``: known names in any case,
    other capitalised words when not the first word of a sentence."""
    lowered = {k.lower() for k in known if k}
    found: list[tuple[int, str]] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.endswith(("'s", "\u2019s")):
            word = word[:-2]
        low = word.lower()
        if low in lowered:
            found.append((match.start(), word[:1].upper() + word[1:]))
    for match in _NAME.finditer(text):
        word, low = match.group(0), match.group(0).lower()
        if low in lowered or low in _NOT_PEOPLE:
            continue
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\"'“":
            continue  # sentence-initial: capitalised for grammar, not as a name
        found.append((match.start(), word))
    return sorted(found)


def referent(turns: Sequence[Turn], known: Iterable[str] = ()) -> str | None:
    """The person a third-person pronoun most likely means: the latest one named.

    Latest turn first; in a turn, the last name mentioned, else the turn's
    speaker (someone talking about themselves is "she" to the next speaker).
    """
    names = list(known)
    for turn in reversed(turns):
        mentioned = _mentions(turn.text, names)
        if mentioned:
            return mentioned[-1][1]
        if turn.speaker:
            return turn.speaker.split()[0]
    return None


def resolve(query: str, turns: Sequence[Turn], known: Iterable[str] = ()) -> Resolution:
    """``query`` with third-person pronouns replaced by the context's latest person.

    A query that already names a person is left as it is, and so is one
    whose context names nobody.
    """
    names = list(known)
    if not turns or _mentions(query, names):
        return Resolution(query, None, 0)
    person = referent(turns, names)
    if person is None:
        return Resolution(query, None, 0)
    words = list(_WORD.finditer(query))
    out: list[str] = []
    last = 0
    replaced = 0
    for i, match in enumerate(words):
        word = match.group(0)
        low = word.lower()
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
    if not replaced:
        return Resolution(query, person, 0)
    return Resolution("".join(out), person, replaced)
