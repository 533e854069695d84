"""Extractors: from an episode's text to subject / attribute / value statements.

``Extractor`` is the one interface (a batch of episodes in, a list of
``Extraction`` per episode out). ``RuleExtractor`` is the default: regular
patterns over first- and third-person statements, no model and no network.
The speaker is the subject of "I" and "we" ("I moved to Denver" said by Maya:
Maya / residence / Denver), a named person of a third-person statement ("Bob
likes sushi": Bob), an unnamed relative is named by the relation ("my sister
moved to Lyon": Maya's sister), and the episode's ``occurred_at`` is the
event time. It covers attributes
(where one lives, works, what as, age), preferences ("I love ...", "my
favourite ... is ..."), relationships (partner, family, pets), counts ("I have
2 kids"), plans ("I'm going to ...") and events ("I went to ..."). The optional
LLM extractor is in ``llm``. This module decides what a statement says, not
what it changes: supersession is ``supersede``'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from engramdb.model import Engram

__all__ = ["EXCLUSIVE", "Extraction", "Extractor", "RuleExtractor", "fact_text"]

#: Attributes that hold one value at a time: a new value supersedes the old one.
EXCLUSIVE = frozenset({"residence", "employer", "occupation", "partner", "age", "situation"})
# "number of kids", "favorite food", "feeling about sushi": exclusive by prefix
_EXCLUSIVE_PREFIXES = ("number of ", "favorite ", "feeling about ")


# "Maya's cousin": a relation one can have several of, so not one person
_SEVERAL = re.compile(
    r"'s (?:sister|brother|son|daughter|friend|cousin|aunt|uncle|grandma|grandmother|grandpa|"
    r"grandfather|niece|nephew|roommate|mentor|kids|children|sons|daughters|grandparents|"
    r"neighbou?r|colleague|coworker|teacher)$",
    re.IGNORECASE,
)


def is_exclusive(attribute: str) -> bool:
    return attribute in EXCLUSIVE or attribute.startswith(_EXCLUSIVE_PREFIXES)


@dataclass(frozen=True, slots=True)
class Extraction:
    """One statement found in an episode.

    ``text`` is the statement as a sentence about the subject (what gets
    embedded and indexed); ``occurred_at`` the event time when the statement
    names one other than the episode's own (None: the episode's).
    """

    subject: str
    attribute: str
    value: str
    text: str
    occurred_at: datetime | None = None

    @property
    def exclusive(self) -> bool:
        """Whether a new value replaces the old one. Not for an unnamed relative
        who may be several people ("my cousin works at Adobe", later "my cousin
        works at Nike": two cousins, both true)."""
        return is_exclusive(self.attribute) and _SEVERAL.search(self.subject) is None


@runtime_checkable
class Extractor(Protocol):
    """Finds statements in episodes; one list per episode, in order."""

    @property
    def name(self) -> str: ...

    def extract(self, episodes: Sequence[Engram]) -> list[list[Extraction]]: ...


def fact_text(subject: str, attribute: str, value: str) -> str:
    """A fact as a plain sentence (what is embedded and shown)."""
    if attribute == "residence":
        return f"{subject} lives in {value}"
    if attribute == "employer":
        return f"{subject} works at {value}"
    if attribute == "occupation":
        return f"{subject} works as {_article(value)} {value}"
    if attribute == "age":
        return f"{subject} is {value} years old"
    if attribute == "plan":
        lead = value.split(" ", 1)[0]
        if lead in {"going", "planning", "hoping", "about"}:
            return f"{subject} is {value}"
        return f"{subject} plans to {value}"
    if attribute == "did":
        return f"{subject} {value}"
    if attribute == "situation":
        return f"{subject} {value}"
    if attribute.startswith("number of "):
        return f"{subject} has {value} {attribute.removeprefix('number of ')}"
    if attribute.startswith("feeling about "):
        return f"{subject} {value} {attribute.removeprefix('feeling about ')}"
    if attribute.startswith("pet "):
        return f"{subject} has a {attribute.removeprefix('pet ')} named {value}"
    return f"{subject}'s {attribute} is {value}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# A value runs to the first clause boundary: punctuation or a joining word.
_STOP = (
    r"and|but|because|since|so|with|when|while|after|before|last|this|next|yesterday|"
    r"today|tonight|recently|now|for|which|who|where|as|if|though|although|until|"
    r"lately|again|too|soon|anymore|right|is|was|are|were|has|had|will|would|feels|seems|"
    r"looks|pays|starts|on|at|in|from|by|near|to|of"
)
_VALUE = (
    rf"(?P<v>(?:(?:St|Dr|Mt|Ft)\. |[^.,!?;:()\n\"]){{1,60}}?)"
    rf"(?=\s+(?:{_STOP})\b|\s+[-\u2013\u2014]\s|\s*[.,!?;:()\n\"\u2013\u2014]|\s*$)"
)
_NAME = r"(?P<v>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)"
_NAME_I = r"(?P<v>(?-i:[A-Z][\w'-]+(?: [A-Z][\w'-]+)?))"  # the same inside an (?i) pattern
_NUMBERS = {
    "no": "0", "zero": "0", "one": "1", "a": "1", "an": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_NUMBER = r"(?P<n>\d+|no|zero|one|two|three|four|five|six|seven|eight|nine|ten)"
_COUNTED = (
    r"(?P<what>kids|children|sons|daughters|dogs|cats|pets|siblings|brothers|sisters|"
    r"grandchildren|cars|horses|birds|fish|rabbits|hamsters|jobs|roommates)"
)
_PARTNER = r"(?:partner|wife|husband|girlfriend|boyfriend|fianc[eé]e?|spouse)"
_FAMILY = (
    r"(?P<rel>sister|brother|mom|mother|dad|father|son|daughter|best friend|friend|cousin|"
    r"aunt|uncle|grandma|grandmother|grandpa|grandfather|niece|nephew|boss|roommate|mentor)"
)
_PET = r"(?P<animal>dog|cat|puppy|kitten|bird|parrot|horse|rabbit|bunny|hamster|turtle|fish)"
_OCCUPATIONS = (
    r"teacher|nurse|engineer|software engineer|developer|programmer|designer|doctor|lawyer|"
    r"counselor|counsellor|therapist|artist|painter|writer|author|chef|cook|student|manager|"
    r"accountant|architect|pilot|scientist|researcher|professor|journalist|photographer|"
    r"musician|dancer|actor|firefighter|police officer|paramedic|pharmacist|dentist|"
    r"veterinarian|vet|social worker|consultant|analyst|librarian|mechanic|electrician|"
    r"plumber|carpenter|baker|barista|waiter|waitress|cashier|salesperson|entrepreneur|"
    r"freelancer|data scientist|product manager|web developer|graphic designer|coach|"
    r"volunteer|intern|mom|dad|stay-at-home parent"
)
_I = r"(?:^|(?<=[\s\"'(]))(?:i|I)"
_ADV = r"(?:(?:just|recently|finally|now|currently|actually|also|still|already|officially) )*"
_RELATION = (
    r"(?:sister|brother|mom|mum|mother|dad|father|son|daughter|best friend|friend|cousin|aunt|"
    r"uncle|grandma|grandmother|grandpa|grandfather|niece|nephew|boss|roommate|mentor|partner|"
    r"wife|husband|girlfriend|boyfriend|fianc[eé]e?|spouse|parents|kids|children|sons|"
    r"daughters|grandparents|neighbou?r|colleague|coworker|teacher)"
)
# A person named in the sentence: a capitalised word (case-sensitive inside
# case-insensitive patterns), checked against _NOT_NAMES when resolved.
_PERSON = r"(?-i:[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
# Who a third-person statement is about: "my sister", "my sister Ana", "Bob",
# "Bob's wife"; resolved to a subject by RuleExtractor._subject.
_WHO = (
    rf"(?P<who>(?<![\w'])(?:(?:my|our) (?:new |older |younger |little |big |baby )?{_RELATION}"
    rf"(?:,? {_PERSON}(?=[ ,]))?|{_PERSON}(?:'s {_RELATION})?))"
)
_ADV3 = r"(?:(?:just|recently|finally|now|currently|actually|also|still|already|really) )*"
_NOT_NAME_WORDS = (
    "i he she they we you it this that these those there here what who which everyone "
    "everybody someone somebody nobody anyone anybody people life family nature art "
    "something nothing everything one each both all some many most my our your his her "
    "their the a an and but so then well yes no oh wow hey hi thanks today tomorrow "
    "yesterday sometimes maybe also just"
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
_UNITS = (
    r"minutes?|hours?|days?|weeks?|months?|percent|%|times?|miles?|km|pounds?|kg|degrees?|"
    r"am|pm|a\.m|p\.m|o'clock"
)

# (pattern, attribute or a function of the match, value group) — tried in order;
# every match of every pattern is kept.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE if flags else 0), attribute)
    for pattern, attribute, flags in (
        # where one lives
        (rf"\b(?:i|we)(?:'ve| have)? {_ADV}(?:moved|relocated) (?:back |over |out )?to {_VALUE}",
         "residence", True),
        (rf"\b(?:i|we) {_ADV}live in {_VALUE}", "residence", True),
        (rf"\b(?:i'm|i am|we're|we are) {_ADV}(?:living|based) in {_VALUE}", "residence", True),
        (rf"\b(?:my|our) (?:new )?(?:home|house|apartment|place|flat) is in {_VALUE}", "residence",
         True),
        (rf"\b(?:i|we)(?:'ve| have) {_ADV}been living in {_VALUE}", "residence", True),
        (rf"{_WHO} {_ADV3}(?:lives?|is living|are living|is based|are based) in {_VALUE}",
         "residence", True),
        (rf"{_WHO} {_ADV3}(?:has |have )?(?:moved|relocated) (?:back |over |out )?to {_VALUE}",
         "residence", True),
        # where one works, and as what
        (rf"(?<!quit )(?<!left )(?<!lost )(?<!losing )(?<!leaving )\bmy (?:new )?job (?:at|with) "
         rf"{_VALUE}", "employer", True),
        (rf"{_WHO} {_ADV3}works? (?:at|for) {_VALUE}", "employer", True),
        (rf"{_WHO} (?:is|are) {_ADV3}working (?:at|for) {_VALUE}", "employer", True),
        (rf"\bi(?:'ve| have)? {_ADV}(?:got |been |was )?hired (?:by|at) {_VALUE}", "employer",
         True),
        (rf"\bi {_ADV}(?:started|began) (?:work |working )?at (?=(?-i:[A-Z])){_VALUE}",
         "employer", True),
        (rf"\bi(?:'m| am) {_ADV}an? (?:{_OCCUPATIONS}) (?:at|for|with) {_VALUE}", "employer",
         True),
        (rf"{_WHO} (?:is|are) {_ADV3}an? (?:{_OCCUPATIONS}) (?:at|for|with) {_VALUE}",
         "employer", True),
        (rf"\bi {_ADV}teach (?:[a-z]+ )?(?:at|in) {_VALUE}", "employer", True),
        (rf"\bi {_ADV}teach (?:[a-z]+ )?(?:at|in) {_VALUE}", "teacher", True),
        (rf"\bi {_ADV}work (?:at|for) {_VALUE}", "employer", True),
        (rf"\bi(?:'m| am) {_ADV}working (?:at|for) {_VALUE}", "employer", True),
        (rf"\bi {_ADV}(?:started|began) (?:a new job|working|my new job) (?:at|for|with) {_VALUE}",
         "employer", True),
        (rf"\bi(?:'ve| have)? {_ADV}(?:got|landed|accepted|took) (?:a|the) (?:new )?"
         rf"(?:job|position|role)(?: as an? [\w -]+?)? (?:at|with) {_VALUE}", "employer", True),
        (rf"\bi {_ADV}work as an? (?P<v>{_OCCUPATIONS})\b", "occupation", True),
        (rf"\bi(?:'m| am) {_ADV}(?:working as )?an? (?P<v>{_OCCUPATIONS})\b", "occupation", True),
        (rf"\bi {_ADV}became an? (?P<v>{_OCCUPATIONS})\b", "occupation", True),
        (rf"{_WHO} {_ADV3}works? as an? (?P<v>{_OCCUPATIONS})\b", "occupation", True),
        (rf"{_WHO} (?:is|are) {_ADV3}(?:working as )?an? (?P<v>{_OCCUPATIONS})\b", "occupation",
         True),
        # partner (names keep their capital: case-sensitive name after an insensitive lead)
        (rf"\b[Mm]y (?:new )?{_PARTNER}(?:'s name)? is (?:called |named )?{_NAME}",
         "partner", False),
        (rf"\b[Mm]y (?:new )?{_PARTNER},? {_NAME}\b", "partner", False),
        (rf"\b[Ii](?:'m| am) {_ADV}(?:dating|seeing|married to|engaged to|with) {_NAME}",
         "partner", False),
        (rf"\b[Ii] {_ADV}(?:married|started dating|got engaged to) {_NAME}", "partner", False),
        (rf"{_WHO}'s {_PARTNER} is (?:called |named )?{_NAME_I}", "partner", True),
        (rf"{_WHO} (?:is|are) {_ADV3}(?:dating|seeing|married to|engaged to) {_NAME_I}",
         "partner", True),
        (rf"{_WHO} {_ADV3}(?:married|got engaged to|started dating) {_NAME_I}", "partner", True),
        (rf"(?<![\w']){_NAME_I} is my (?:new )?{_PARTNER}\b", "partner", True),
        (rf"(?<![\w']){_NAME_I} and (?:i|me) (?:just )?(?:got married|got engaged|are married|"
         rf"are engaged|are dating|started dating)", "partner", True),
        # age
        (r"\bi(?:'m| am| just turned| turned) (?P<v>\d{1,3})(?= years? old|\b(?! ?(?:"
         r"minutes?|hours?|days?|weeks?|months?|percent|%|times?|miles?|km|pounds?|kg)))",
         "age", True),
        (rf"{_WHO} (?:is|just turned|turned) (?P<v>\d{{1,3}})(?= years? old|\b(?! ?(?:{_UNITS})))",
         "age", True),
        # counts
        (rf"\b(?:i|we) {_ADV}(?:have|own|got) {_NUMBER} {_COUNTED}\b", "number", True),
        (rf"{_WHO} {_ADV3}(?:has|have|owns?) {_NUMBER} {_COUNTED}\b", "number", True),
        # preferences
        (rf"\bmy (?:new |all-time |absolute )?favou?rite (?P<what>[a-z][a-z ]{{0,30}}?) "
         rf"(?:is|are) (?:now |still |definitely )?{_VALUE}", "favorite", True),
        (rf"\bi {_ADV}(?:really |absolutely |totally )?(?P<verb>love|like|enjoy|adore|hate|dislike|"
         rf"can't stand|don't like|do not like|no longer like) {_VALUE}", "feeling", True),
        (rf"{_WHO} {_ADV3}(?:absolutely |totally )?(?P<verb>loves|likes|enjoys|adores|hates|"
         rf"dislikes|can't stand|doesn't like|does not like) {_VALUE}", "feeling", True),
        (rf"\bi(?:'m| am) {_ADV}(?:a (?:big |huge )?fan of|(?:really |totally )?into|"
         rf"(?:really |so )?passionate about|obsessed with) {_VALUE}", "fond", True),
        (r"\bi (?:much |really )?prefer (?P<v>[\w' -]{1,40}?)(?= over | to | rather |\s*[.,!?;]|$)",
         "fond", True),
        (rf"\bmy (?:love|passion) (?:for|of) {_VALUE}", "passion", True),
        (rf"^\s*(?P<v>[\w'-]+(?: [\w'-]+)?) (?:is|are) my (?:all-time |absolute )?favou?rite "
         rf"(?P<what>[a-z][a-z ]{{0,30}}?)(?=\s*[.,!?;]|\s*$| (?:{_STOP})\b)", "favorite", True),
        # relationships and pets
        (rf"\b[Mm]y {_FAMILY}(?:'s name)?(?: is(?: called| named)?| named| called)? {_NAME}",
         "family", False),
        (rf"{_WHO}'s {_FAMILY}(?:'s name)? is (?:called |named )?{_NAME_I}", "family", True),
        (rf"\b(?:[Mm]y|[Oo]ur) {_PET}(?:'s name is| is (?:called|named)| named| called),? {_NAME}",
         "pet", False),
        (rf"\b(?:[Mm]y|[Oo]ur) (?:new )?{_PET},? {_NAME}\b", "pet", False),
        (rf"\b(?:i|we) {_ADV}(?:have|own|adopted|got) an? (?:new )?{_PET} (?:named|called) "
         rf"{_NAME_I}", "pet", True),
        # plans
        (rf"\bi(?:'m| am) {_ADV}(?P<verb>going|planning|hoping|about) to "
         rf"(?P<v>(?!be\b)[^.,!?;:()\n]{{3,60}}?)(?=\s+(?:{_STOP})\b|\s*[.,!?;:()\n]|\s*$)",
         "plan", True),
        (rf"\bi {_ADV}(?:plan|intend|want) to {_VALUE}", "plan", True),
        # events
        (rf"\bi {_ADV}(?P<verb>went to|visited|adopted|bought|started|finished|joined|attended|"
         rf"graduated from|signed up for|ran|painted|wrote|won|lost|quit|left|got) {_VALUE}",
         "did", True),
    )
)  # fmt: skip

_FEELING = {
    "love": "loves", "like": "likes", "enjoy": "enjoys", "adore": "adores", "hate": "hates",
    "dislike": "dislikes", "can't stand": "can't stand", "don't like": "dislikes",
    "do not like": "dislikes", "no longer like": "no longer likes", "loves": "loves",
    "likes": "likes", "enjoys": "enjoys", "adores": "adores", "hates": "hates",
    "dislikes": "dislikes", "doesn't like": "dislikes", "does not like": "dislikes",
}  # fmt: skip
_ANIMAL = {"puppy": "dog", "kitten": "cat", "bunny": "rabbit"}
# what a liking is about, never a pronoun or a clause ("I love how you ...")
_NOT_TARGETS = re.compile(
    r"^(?:(?:it|that|this|them|those|these|you|him|her|us|me|to|to \w+)$|"
    r"(?:how|what|when|where|why|who|whether|i|i'm|i've)\b|(?:that|this) (?:it|you|i|we|they)\b)",
    re.IGNORECASE,
)
_WHO_PARTS = re.compile(
    rf"^(?:(?:my|our) (?:(?:new|older|younger|little|big|baby) )?(?P<rel>{_RELATION})"
    rf"(?:,? (?P<named>{_PERSON}))?|(?P<name>{_PERSON})(?:'s (?P<of>{_RELATION}))?)$",
    re.IGNORECASE,
)
_DROP_LEAD = re.compile(r"^(?:the|a|an|my|our|some|this|that|to)\s+", re.IGNORECASE)
# a sentence ends at . ! or ?, not at "St." or "Dr." ("a nurse at St. Mary's")
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\bSt\.)(?<!\bDr\.)(?<!\bMt\.)(?<!\bFt\.)\s+")


def _clean(value: str) -> str:
    value = re.sub(r"\s+", " ", value).strip(" '\"-")
    return value


class RuleExtractor:
    """Regular patterns over first-person statements; deterministic, local, fast."""

    name = "rules"
    #: Each episode is read alone: a statement holds its own episode's words and the
    #: extractor's ("loves", "2"), never another episode's (``attribution``).
    reads_one_episode_at_a_time = True

    def __init__(self, *, max_value_words: int = 8) -> None:
        self.max_value_words = max_value_words

    def extract(self, episodes: Sequence[Engram]) -> list[list[Extraction]]:
        return [self.extract_one(e.text, e.speaker) for e in episodes]

    def extract_one(self, text: str, speaker: str | None) -> list[Extraction]:
        speaker = speaker or "user"
        found: list[Extraction] = []
        seen: set[tuple[str, str, str]] = set()
        text = text.replace("\u2019", "'").replace("\u2018", "'")
        for sentence in _SENTENCE.split(text):
            if "?" in sentence and not sentence.rstrip().endswith((".", "!")):
                continue  # a question asserts nothing
            for pattern, kind in _RULES:
                for match in pattern.finditer(sentence):
                    subject = _subject(match.groupdict().get("who"), speaker)
                    item = None if subject is None else self._extraction(match, kind, subject)
                    if item is None:
                        continue
                    key = (item.subject.casefold(), item.attribute, item.value.casefold())
                    if key not in seen:
                        seen.add(key)
                        found.append(item)
        return found

    def _extraction(self, match: re.Match[str], kind: str, subject: str) -> Extraction | None:
        groups = match.groupdict()
        value = _clean(groups.get("v") or "")
        attribute = kind
        if kind == "number":
            value = _NUMBERS.get(groups["n"].lower(), groups["n"])
            attribute = f"number of {groups['what'].lower()}"
        elif kind == "favorite":
            attribute = f"favorite {_clean(groups['what']).lower()}"
        elif kind in {"feeling", "fond", "passion"}:
            target = _DROP_LEAD.sub("", value) if value.lower().startswith("the ") else value
            if not target or _NOT_TARGETS.match(target):
                return None
            attribute = f"feeling about {target.lower()}"
            verb = groups.get("verb")
            value = _FEELING[verb.lower()] if verb else "loves" if kind == "passion" else "likes"
        elif kind == "teacher":
            attribute, value = "occupation", "teacher"
        elif kind == "family":
            attribute = groups["rel"].lower()
        elif kind == "pet":
            animal = groups["animal"].lower()
            attribute = f"pet {_ANIMAL.get(animal, animal)}"
        elif kind == "did":
            value = f"{groups['verb'].lower()} {value}"
        elif kind == "plan" and groups.get("verb"):
            value = f"{groups['verb'].lower()} to {value}"
        elif kind in {"residence", "employer", "plan"}:
            value = _DROP_LEAD.sub("", value) if kind == "residence" else value
        if kind == "residence" and value.lower() in {"here", "there", "it", "them", "us"}:
            return None
        if kind in {"partner", "family", "pet"}:
            value = value.removesuffix("'s")  # "my daughter Sara's school"
            if not _is_name(value):
                return None
        if not value or len(value.split()) > self.max_value_words:
            return None
        return Extraction(
            subject=subject,
            attribute=attribute,
            value=value,
            text=fact_text(subject, attribute, value),
        )


def _is_name(word: str) -> bool:
    first = word.split(" ", 1)[0]
    return "'" not in first and first.casefold() not in _NOT_NAMES


def _subject(who: str | None, speaker: str) -> str | None:
    """Whom a statement is about: the speaker, a named person, or a relative.

    "my sister" said by Maya is "Maya's sister"; "my sister Ana" is "Ana";
    "Bob's wife" stays "Bob's wife". None when the word is no name ("She",
    "Everyone"): the statement is about someone the sentence does not name.
    """
    if who is None:
        return speaker
    parts = _WHO_PARTS.match(who.strip())
    if parts is None:
        return None
    if parts["rel"]:
        return parts["named"] or f"{speaker}'s {parts['rel'].lower()}"
    name = parts["name"]
    if not _is_name(name):
        return None
    if re.fullmatch(_RELATION, name, re.IGNORECASE):
        return f"{speaker}'s {name.lower()}"  # "Mom lives in Ohio"
    return f"{name}'s {parts['of'].lower()}" if parts["of"] else name
