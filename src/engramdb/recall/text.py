"""Lexical helpers shared by indexing and querying: tokens, stopwords, names.

Owns how text becomes plain search terms; it does not stem (the lexical index
does, with the same rules for memories and queries) and does not score.
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "capitalised_names", "query_terms", "words"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)

# A compact English stopword list: question words and function words carry no
# topic, and OR-ing them into a lexical query only adds noise and latency.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll
    i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
    not of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves
    then there there's these they they'd they'll they're they've this those through to too under
    until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves also just will yes ok okay oh hey hi
    """.split()  # noqa: SIM905 - a word list reads better as prose
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; inner apostrophes kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Distinct content words of a query, in order, for the lexical index."""
    seen: dict[str, None] = {}
    for word in words(text):
        base = word.split("'")[0]  # "Caroline's" -> "caroline"
        if base and base not in STOPWORDS and base not in seen:
            seen[base] = None
    return list(seen)[:limit]


def capitalised_names(text: str) -> set[str]:
    """Capitalised words not at a sentence start: a cheap proper-noun detector."""
    names: set[str] = set()
    for sentence in re.split(r"[.!?]\s+", text):
        tokens = _WORD.findall(sentence)
        for token in tokens[1:]:
            if token[:1].isupper():
                names.add(token.split("'")[0].lower())
    return names
