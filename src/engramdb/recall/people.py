"""People in follow-ups: whom a third-person pronoun of a query means (docs/context.md).

After "Melanie: How is Caroline doing these days?" / "Melanie: I heard she has
big plans.", "What is she researching?" asks about Caroline. ``rewrite_people``
replaces he/she/they/him/her/them/his/hers/their/theirs (and reflexives, when
the query does not already name their person) with whom they most likely mean,
read from a model of who the context mentions, in order:

- a turn's names (known speakers of the namespace when it names any, since
  other capitalised words may be places or titles; never the turn's own
  speaker nor someone addressed, "Thanks, Caroline!"); names joined by "and"
  or commas are one group ("Jon and Gina"), which only "they" can mean;
- its first person ("I", "my", "we") mentions its speaker, its "you" the
  previous other speaker;
- its third-person pronouns are resolved as they come, never to the turn's
  own speaker or addressee. "she"/"he" teach the gender of whom they mean, so
  a later "he" skips a person the context called "she"; a "she" that can mean
  nobody named ("I met my new neighbour. She is a teacher.") is someone
  unnamed, and a later "she" means them, so it is left alone.

A pronoun then means the latest *third person* (named or referred to) of the
last two turns, else the latest mention of anyone, a speaker included: when a
speaker only talked about themselves, "she" is that speaker to whoever asks
next, and when the latest speaker only answered ("Wow, that is wonderful
news!"), it is their interlocutor. "she"/"he" never mean a group or someone of
the other known gender; "they" means a group or one person. A query in the
first person ("Did I tell her?") is the latest speaker's: its pronouns never
mean that speaker. There is no name-gender list: gender is learnt only from
the context's own pronouns. Pure functions, no store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engramdb.recall.text import fold

__all__ = ["NOT_PEOPLE", "Turn", "parse_turn", "referent", "rewrite_people"]

# A word list reads better as prose (text.py does the same).
# ruff: noqa: SIM905

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
NOT_PEOPLE = frozenset(
    """
    i i'm i've i'd i'll tell what when where who why how which did does do is was are were
    the a an and but so yes no ok okay hi hello hey thanks thank please my our your its
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december today yesterday tomorrow
    she he they her him them his their it this that these those there here
    """.split()
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the conversation so far: who said it (when known) and what."""

    text: str
    speaker: str | None = None


def parse_turn(raw: str) -> Turn:
    """A context string as a turn: ``"Caroline: I went hiking"`` names its speaker."""
    match = _LABEL.match(raw)
    if match and match.group(1).lower() not in NOT_PEOPLE:
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
        if low in lowered or low in NOT_PEOPLE:
            continue
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\"'“":
            continue  # sentence-initial: capitalised for grammar, not as a name
        others.append((match.start(), word))
    return sorted(others) + sorted(found)


def referent(turns: Sequence[Turn], known: Iterable[str] = (), pronoun: str = "they") -> str | None:
    """The person (or group: "Jon and Gina") that ``pronoun`` most likely means
    after ``turns`` (module docstring), or None when it is nobody the
    context names."""
    found = _pick(_discourse(turns, known), _KIND.get(pronoun.lower(), ""), len(turns) - 1)
    return found.name if found else None


def rewrite_people(
    query: str, turns: Sequence[Turn], known: Iterable[str] = ()
) -> tuple[str, int, str | None]:
    """``query`` with its third-person pronouns replaced by whom they mean after
    ``turns``: the text, how many were replaced and the first person.

    Pronouns after a person the query names itself are left as they are
    ("What did Anna say about her?").
    """
    names = list(known)
    named = _mentions(query, names)
    before = min(p for p, _ in named) if named else len(query)
    discourse = _discourse(turns, names)
    asker = next((t.speaker.split()[0] for t in reversed(turns) if t.speaker), None)
    says_i = any(w.group(0).lower() in _FIRST_SINGULAR for w in _WORD.finditer(query))
    besides = frozenset({fold(asker)} if asker and says_i else ())

    def person(pronoun: str) -> str | None:
        found = _pick(discourse, _KIND[pronoun], len(turns) - 1, besides)
        return found.name if found else None

    return _people(query, person, before)


_FEMININE = frozenset({"she", "her", "hers", "herself"})
_MASCULINE = frozenset({"he", "him", "his", "himself"})
_PLURAL = frozenset({"they", "them", "their", "theirs", "themselves", "themself"})
_KIND = dict.fromkeys(_FEMININE, "f") | dict.fromkeys(_MASCULINE, "m") | dict.fromkeys(_PLURAL, "")
_REFLEXIVE = frozenset({"herself", "himself", "themselves", "themself"})
_FIRST_SINGULAR = frozenset("i me my mine myself i'm i've i'd i'll".split())
_FIRST = _FIRST_SINGULAR | frozenset("we us our ours ourselves we're we've we'd we'll".split())
_SECOND = frozenset("you your yours yourself you're you've you'd you'll".split())
_GREETING = frozenset("hi hey hello thanks thank dear bye congrats congratulations".split())
_GROUP = re.compile(r"\s*(?:,|&|and|, and)\s*")
# A third person mentioned in the last two turns wins over the speakers.
_FRESH_TURNS = 2
# Only the latest turns are read for people: a pronoun means someone of the recent
# talk, and a 200-turn context then costs what a 20-turn one does.
_READ_TURNS = 20


@dataclass(frozen=True, slots=True)
class _Mention:
    """Someone the conversation mentions: by name, by pronoun, or a speaker by
    "I" / "you". ``people`` is empty for someone unnamed ("my neighbour. She
    ..."), who was then called ``kind`` ("f" or "m")."""

    people: tuple[str, ...]
    turn: int
    third: bool  # named or referred to in the third person, not a speaker saying "I"
    kind: str = ""

    @property
    def name(self) -> str:
        return " and ".join(self.people)


@dataclass(frozen=True, slots=True)
class _Discourse:
    mentions: list[_Mention]  # oldest first
    gender: dict[str, str]  # folded name -> "f" or "m", from the pronouns the context used


def _discourse(turns: Sequence[Turn], known: Iterable[str]) -> _Discourse:
    """Everyone the context mentions, in order. A turn's "I", "my", "we" mention
    its speaker, its "you" the previous other speaker; its third-person pronouns
    are resolved as they come (never to the turn's speaker or addressee), which
    teaches the gender of whom they mean. Only the last ``_READ_TURNS`` turns
    are read; the turn numbers of the mentions stay those of ``turns``."""
    names = list(known)
    skipped = max(0, len(turns) - _READ_TURNS)
    discourse = _Discourse([], {})
    mentions, gender = discourse.mentions, discourse.gender
    speakers: list[str] = []
    for index, turn in enumerate(turns[skipped:], start=skipped):
        speaker = turn.speaker.split()[0] if turn.speaker else None
        addressee = None
        if speaker:
            addressee = next((s for s in reversed(speakers) if fold(s) != fold(speaker)), None)
        events: list[tuple[int, str, tuple[str, ...]]] = [
            (at, "name", group) for at, group in _named(turn.text, names, speaker)
        ]
        for word in _WORD.finditer(turn.text):
            low = word.group(0).lower().replace("\u2019", "'")
            if low in _FIRST and speaker:
                events.append((word.start(), "self", (speaker,)))
            elif low in _SECOND and addressee:
                events.append((word.start(), "self", (addressee,)))
            elif low in _KIND:
                events.append((word.start(), low, ()))
        for _, what, people in sorted(events):
            if what in ("name", "self"):
                mentions.append(_Mention(people, index, third=what == "name"))
                continue
            kind = _KIND[what]
            besides = frozenset(fold(p) for p in (speaker, addressee) if p)
            found = _pick(discourse, kind, index, besides)
            if found is None:
                if kind:  # someone unnamed: a later "she" may mean them, not a speaker
                    mentions.append(_Mention((), index, third=True, kind=kind))
                continue
            if kind and len(found.people) == 1:
                gender.setdefault(fold(found.people[0]), kind)
            mentions.append(_Mention(found.people, index, third=True))
        if speaker:
            speakers.append(speaker)
    return discourse


def _named(text: str, known: list[str], speaker: str | None) -> list[tuple[int, tuple[str, ...]]]:
    """The third persons ``text`` names, in order: known speakers of the namespace
    when it names any (other capitalised words may be places or titles), else
    the other names; never the turn's own speaker or someone addressed ("Thanks,
    Caroline!"). Names joined by "and" or commas are one group."""
    found = _mentions(text, known)
    lowered = {fold(k) for k in known if k}
    if any(fold(n) in lowered for _, n in found):
        found = [(at, n) for at, n in found if fold(n) in lowered]
    kept = sorted(
        (at, n)
        for at, n in found
        if not (speaker and fold(n) == fold(speaker)) and not _vocative(text, at, at + len(n))
    )
    groups: list[tuple[int, tuple[str, ...], int]] = []  # start, people, end
    for at, name in kept:
        if groups and _GROUP.fullmatch(text[groups[-1][2] : at]):
            start, people, _ = groups[-1]
            groups[-1] = (start, (*people, name), at + len(name))
        else:
            groups.append((at, (name,), at + len(name)))
    return [(start, people) for start, people, _ in groups]


def _vocative(text: str, start: int, end: int) -> bool:
    """Whether the name at [start, end) addresses someone ("Hey Jon!", "Thanks, Gina.")."""
    before, after = text[:start].rstrip(), text[end:].lstrip()
    opens = not before or before[-1] in ".!?,:;" or before.split()[-1].lower() in _GREETING
    return opens and (not after or after[0] in ",!?.")


def _pick(
    discourse: _Discourse, kind: str, now: int, besides: frozenset[str] = frozenset()
) -> _Mention | None:
    """Whom a pronoun of ``kind`` ("f", "m", or "" for they) means at turn ``now``:
    a third person mentioned in the last two turns, else the latest mention of
    anyone. She/he is one person whose known gender does not differ; nobody in
    ``besides`` (the one asking); an unnamed someone of the same kind means None."""

    def fits(m: _Mention) -> bool:
        if not m.people:
            return bool(kind) and m.kind == kind
        if any(fold(p) in besides for p in m.people):
            return False
        if not kind:
            return True
        return len(m.people) == 1 and discourse.gender.get(fold(m.people[0]), kind) == kind

    latest: _Mention | None = None
    for m in reversed(discourse.mentions):  # newest first, stopping as soon as it is decided
        fresh = m.turn > now - _FRESH_TURNS
        if not fresh and latest is not None:
            break
        if not fits(m):
            continue
        if fresh and m.third:
            latest = m
            break
        latest = latest or m
        if not fresh:
            break
    return latest if latest and latest.people else None


def _people(
    query: str, person: Callable[[str], str | None], before: int
) -> tuple[str, int, str | None]:
    """``query`` with the pronouns that start before ``before`` replaced by whom
    ``person`` says they mean; a reflexive only when its person is not already
    in the query ("Did Caroline paint it herself?"). Returns the text, how many
    were replaced and the first person."""
    words = [w for w in _WORD.finditer(query) if w.start() < before]
    changes: list[tuple[int, int, str]] = []
    reflexives: list[tuple[int, int, str]] = []
    first: str | None = None
    for i, match in enumerate(words):
        low = match.group(0).lower()
        if low not in _KIND:
            continue
        name = person(low)
        if name is None:
            continue
        if low in _REFLEXIVE:
            reflexives.append((match.start(), match.end(), name))
            continue
        if low in _POSSESSIVE:
            new = f"{name}'s"
        elif low == "her":
            following = words[i + 1].group(0).lower() if i + 1 < len(words) else ""
            gap = query[match.end() : words[i + 1].start()] if i + 1 < len(words) else ""
            possessive = following and following not in _NOT_A_NOUN and gap.strip() == ""
            new = f"{name}'s" if possessive else name
        else:
            new = name
        changes.append((match.start(), match.end(), new))
        first = first or name
    said = {fold(n) for _, _, n in changes}
    for start, end, name in reflexives:
        if fold(name) not in said:
            changes.append((start, end, name))
            first = first or name
    out: list[str] = []
    last = 0
    for start, end, new in sorted(changes):
        out += [query[last:start], new]
        last = end
    out.append(query[last:])
    return "".join(out), len(changes), first
