"""Context benchmark (docs/context.md): follow-up questions and context packing on LoCoMo dev.

1. Follow-up questions. Each question of categories 1-4 that names exactly one
   of its conversation's two speakers is rewritten so that it means something
   only after a previous synthetic turn, which holds both the person and the
   topic: "When did Caroline go to the LGBTQ support group?" becomes the turn
   "Tell me about Caroline and the LGBTQ support group." and the question
   "When did she go to that?". The rules, applied in this order:

   a. Topic phrase. Content words are the question's words that are not
      stopwords (``engramdb.recall.text.STOPWORDS``), not a speaker's name, not
      a time word (``TIME_WORDS``) and hold no digit. Runs are maximal
      sequences of content words with only spaces between them. A run counts
      only right after a determiner, a possessive (her/his/their/..., or the
      speaker's "{Name}'s") or a preposition (``PREPOSITIONS``; "to" and "of"
      are left out: mostly an infinitive and a "kind of"), so that it is a
      noun phrase. Each word's IDF is ``log(N / df)`` over the conversation's
      N turns, df counting turns that contain the word's Snowball stem
      (``engramdb.recall.lexical.analyze``); words no turn contains have none.
      The topic phrase is the counting run with the highest-IDF word (the
      first on ties). Questions without one are left out.
   b. Anaphor. The phrase, with the determiner or possessive before it, is
      replaced by "that one" after a/an, "it" after a possessive, else "that"
      (a preposition before the phrase stays: "go on that").
   c. Context turn: ``"Tell me about {Name} and {determiner} {phrase}."``
      (``"Tell me about {Name}'s {phrase}."`` when the name was the
      possessive; no determiner after a preposition).
   d. Person. In the question ``{Name}'s`` becomes her/his/their and
      ``{Name}`` she/he/they, or her/him/them right after a preposition or one
      of a few verbs (``OBJECT_AFTER``); gender comes from the fixed
      ``GENDER`` table of LoCoMo's speakers, "they" for anyone else. No verb
      agreement is fixed ("does they").

   Recall@10 of the evidence is reported for the original questions, the
   rewritten ones without ``context=`` and with ``context=[turn]``, on the same
   subset of kept questions.
2. Personal pronouns. Each question of categories 1-4 that names exactly one
   speaker keeps its topic and loses only the name, by rule d ("What is
   Caroline researching?" becomes "What is she researching?"); the name lives
   in two previous turns of the *other* speaker, the second of which refers
   to the person by pronoun: ``"{Other}: How is {Name} doing these days?"``,
   ``"{Other}: I heard {she} has been busy."``. The context's speaker is
   named in every turn and the person only in the first, so a resolver that
   takes the latest speaker answers for the wrong person. Questions whose
   rewrite changes nothing are left out. Recall@10 of the original question
   without context, of the rewritten one without and with ``context=``.
3. Packing. For every question, evidence coverage (the fraction of its
   evidence turns inside the context) of ``mem.context(question,
   budget_tokens=B)`` against naive top-k: hits in rank order, each as the
   same labelled line, until the next one would overflow B. B = 500, 1000, 2000.

Searches never reinforce (``reinforce=False``), so runs do not change each other.

    python bench/context.py --out bench/results/context.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory, Settings
from engramdb.formats import locomo
from engramdb.model import ContextItem
from engramdb.recall.lexical import analyze
from engramdb.recall.text import STOPWORDS
from engramdb.recall.tokens import default_counter
from locomo import DEFAULT_DATA, machine, questions
from metrics import recall_at

BUDGETS = (500, 1000, 2000)
PARTS = frozenset({"followup", "pronouns", "packing"})
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
        "supports", "ask", "asked", "invite", "invited",
    }
)  # fmt: skip
TIME_WORDS = frozenset(
    """
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday yesterday today tonight tomorrow
    ago recently lately sometime week weeks weekend month months year years day days night
    morning afternoon evening summer winter spring autumn last next past previous
    """.split()  # noqa: SIM905 - a word list reads better as prose
)
DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "some", "any"})
POSSESSIVES = frozenset({"her", "his", "their", "my", "our", "your", "its"})
PREPOSITIONS = frozenset(
    {
        "about", "for", "with", "from", "at", "on", "in", "into", "by", "during", "after",
        "before", "over", "under", "through", "between", "against",
    }
)  # fmt: skip
_TOKEN = re.compile(r"[^\W_](?:[\w'\u2019+&-]*[\w+])?(?:(?<=s)['\u2019])?")


def named(question: str, speakers: tuple[str, str]) -> str | None:
    """The one speaker ``question`` names, or None when it names both or neither."""
    found = [s for s in speakers if re.search(rf"\b{re.escape(s)}\b", question)]
    return found[0] if len(found) == 1 else None


def idf_of(conversation: locomo.Conversation) -> Callable[[str], float | None]:
    """A word's IDF over the conversation's turns, None when no turn has its stem."""
    found = Counter(t for turn in conversation.turns for t in set(analyze(turn["text"])))
    n = len(conversation.turns)

    def idf(word: str) -> float | None:
        stems = analyze(word)
        return math.log(n / found[stems[0]]) if stems and found[stems[0]] else None

    return idf


def rewrite(
    question: str, speakers: tuple[str, str], idf: Callable[[str], float | None]
) -> tuple[str, str] | None:
    """(context turn, rewritten question) by the module docstring's rules, or None."""
    name = named(question, speakers)
    if name is None:
        return None
    tokens = list(_TOKEN.finditer(question))
    lows = [t.group(0).lower() for t in tokens]
    people = {s.lower() for s in speakers}

    def content(word: str) -> bool:
        base = re.split(r"['\u2019]", word)[0]
        return not (
            base in STOPWORDS
            or base in people
            or base in TIME_WORDS
            or any(c.isdigit() for c in word)
        )

    def joined(i: int) -> bool:
        return i > 0 and question[tokens[i - 1].end() : tokens[i].start()].isspace()

    possessive = {f"{name.lower()}'s", f"{name.lower()}\u2019s"} | POSSESSIVES
    best: tuple[float, int, int] | None = None
    i = 0
    while i < len(tokens):
        if not content(lows[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and content(lows[j + 1]) and joined(j + 1):
            j += 1
        marker = lows[i - 1] if joined(i) else ""
        if marker in DETERMINERS | possessive | PREPOSITIONS:
            scores = [x for x in (idf(t.group(0)) for t in tokens[i : j + 1]) if x is not None]
            if scores and (best is None or max(scores) > best[0]):
                best = (max(scores), i, j)
        i = j + 1
    if best is None:
        return None
    _, i, j = best
    phrase, marker = question[tokens[i].start() : tokens[j].end()], lows[i - 1]
    if marker in PREPOSITIONS:
        start, anaphor, turn = tokens[i].start(), "that", f"Tell me about {name} and {phrase}."
    else:
        start = tokens[i - 1].start()
        anaphor = "that one" if marker in ("a", "an") else "it" if marker in possessive else "that"
        owner = tokens[i - 1].group(0) if marker in possessive - POSSESSIVES else ""
        turn = (
            f"Tell me about {owner} {phrase}."
            if owner
            else f"Tell me about {name} and {marker} {phrase}."
        )
    text = question[:start] + (anaphor.capitalize() if start == 0 else anaphor)
    return turn, replace_person(text + question[tokens[j].end() :], name)


def replace_person(question: str, name: str) -> str:
    """``question`` with ``name`` replaced by a pronoun (rule d)."""
    subject, obj, possessive = PRONOUNS[GENDER.get(name, "")]

    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            return possessive.capitalize() if match.start() == 0 else possessive
        before = question[: match.start()].split()
        word = obj if before and before[-1].lower() in OBJECT_AFTER else subject
        return word.capitalize() if match.start() == 0 else word

    return re.sub(rf"\b{re.escape(name)}('s|\u2019s)?(?!\w)", swap, question)


def pronoun_followup(question: str, speakers: tuple[str, str]) -> tuple[list[str], str] | None:
    """(context turns, rewritten question) by the module docstring's part 2, or None."""
    name = named(question, speakers)
    if name is None:
        return None
    text = replace_person(question, name)
    if text == question:
        return None
    other = speakers[1] if name == speakers[0] else speakers[0]
    subject = PRONOUNS[GENDER.get(name, "")][0]
    context = [
        f"{other}: How is {name} doing these days?",
        f"{other}: I heard {subject} has been busy.",
    ]
    return context, text


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


def run(data: Path, parts: frozenset[str] = PARTS) -> dict[str, Any]:
    conversations = list(locomo.load(data))
    count = default_counter().count
    follow: dict[str, list[float]] = {"original": [], "rewritten": [], "with_context": []}
    examples: list[dict[str, str]] = []
    pronoun: dict[str, list[float]] = {"original": [], "rewritten": [], "with_context": []}
    pronoun_examples: list[dict[str, Any]] = []
    packed: dict[int, list[float]] = {b: [] for b in BUDGETS}
    topk: dict[int, list[float]] = {b: [] for b in BUDGETS}
    conversation: list[str] = []  # of each packing question, to read any held-out split
    over_budget = 0
    not_one_speaker = no_topic = 0
    with tempfile.TemporaryDirectory() as tmp, Memory(settings=Settings(path=tmp)) as mem:
        start = time.perf_counter()
        dia: dict[str, str] = {}
        for conv in conversations:
            for e in mem.add_many(list(conv.turns), namespace=conv.sample_id):
                dia[e.id] = str(e.metadata.get("dia_id"))
        for conv in conversations:
            ns, now = conv.sample_id, conv.last_session_at
            idf = idf_of(conv)
            for q in questions(conv) if "followup" in parts else ():

                def ranked(
                    text: str, context: list[str] | None = None, ns: str = ns, now: Any = now
                ) -> list[str]:
                    hits = mem.search(
                        text, namespace=ns, limit=10, now=now, reinforce=False, context=context
                    )
                    return [dia[h.engram.id] for h in hits]

                pair = rewrite(q.question, conv.speakers, idf)
                if pair is None:
                    not_one_speaker += named(q.question, conv.speakers) is None
                    no_topic += named(q.question, conv.speakers) is not None
                    continue
                turn, text = pair
                follow["original"].append(recall_at(ranked(q.question), q.evidence, 10))
                follow["rewritten"].append(recall_at(ranked(text), q.evidence, 10))
                follow["with_context"].append(recall_at(ranked(text, [turn]), q.evidence, 10))
                if len(examples) < 12:
                    examples.append({"context": turn, "original": q.question, "question": text})
            for q in questions(conv) if "pronouns" in parts else ():
                rewritten = pronoun_followup(q.question, conv.speakers)
                if rewritten is None:
                    continue
                turns, text = rewritten
                for key, asked, context in (
                    ("original", q.question, None),
                    ("rewritten", text, None),
                    ("with_context", text, turns),
                ):
                    hits = mem.search(
                        asked, namespace=ns, limit=10, now=now, reinforce=False, context=context
                    )
                    got = [dia[h.engram.id] for h in hits]
                    pronoun[key].append(recall_at(got, q.evidence, 10))
                if len(pronoun_examples) < 6:
                    pronoun_examples.append(
                        {"context": turns, "original": q.question, "question": text}
                    )
            for q in questions(conv) if "packing" in parts else ():
                conversation.append(ns)
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
    result: dict[str, Any] = {"data": str(data), "machine": machine(), "seconds": round(seconds, 1)}
    if "followup" in parts:
        result["followup"] = {
            "questions": len(follow["original"]),
            "left_out": {"not_one_speaker": not_one_speaker, "no_topic_phrase": no_topic},
            "recall@10": {k: mean(v) for k, v in follow.items()},
            "with_context_over_original": round(mean(follow["with_context"]) / original, 4)
            if original
            else 0.0,
            "without_context_over_original": round(mean(follow["rewritten"]) / original, 4)
            if original
            else 0.0,
            "examples": examples,
        }
    if "pronouns" in parts:
        base = mean(pronoun["original"])
        result["pronouns"] = {
            "questions": len(pronoun["original"]),
            "recall@10": {k: mean(v) for k, v in pronoun.items()},
            "with_context_over_original": round(mean(pronoun["with_context"]) / base, 4)
            if base
            else 0.0,
            "examples": pronoun_examples,
        }
    if "packing" in parts:

        def coverage(keep: set[str]) -> dict[str, dict[str, float]]:
            rows = [i for i, ns in enumerate(conversation) if ns in keep]
            return {
                str(b): {
                    "packed": mean([packed[b][i] for i in rows]),
                    "naive_topk": mean([topk[b][i] for i in rows]),
                }
                for b in BUDGETS
            }

        result["packing"] = {
            "questions": len(packed[BUDGETS[0]]),
            "over_budget": over_budget,
            "coverage": coverage(set(conversation)),
            "by_conversation": {ns: coverage({ns}) for ns in dict.fromkeys(conversation)},
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part of the three")
    args = parser.parse_args(argv)
    result = run(args.data, frozenset({args.only}) if args.only else PARTS)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
