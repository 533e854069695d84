"""Lexical helpers shared by indexing and querying: folding, tokens, stopwords, names.

Owns how text becomes plain search terms; it does not stem (the lexical index
does, with the same rules for memories and queries) and does not score.

``fold`` is the one normalisation every lexical comparison of recall goes
through: the in-process BM25 (``recall.lexical.analyze``, for memories and
queries alike, and so the follow-up resolver's phrases and the namespace's
IDF), the query's words and the speakers' names the speaker signals compare,
and the names the follow-up resolver looks for. It makes "pasteis obidos"
meet "Pastéis ... Óbidos", as the store's own indexes already do (FTS5
``unicode61 remove_diacritics 2``; the encrypted store's blind tokens drop
combining marks after NFKD, ``security.crypto.blind_tokens``), and goes a
little further than they do:

- Unicode NFKD, then every combining mark dropped: accents go ("é" -> "e",
  also when the text arrives decomposed), and compatibility forms become
  their plain letters (ligatures "ﬁ" -> "fi", full-width forms U+FF01-FF5E
  -> ASCII, superscripts "²" -> "2").
- ``str.casefold`` rather than ``lower``: "ß" and "ẞ" -> "ss", Greek final
  sigma -> sigma.
- Letters NFKD leaves whole are spelled in plain Latin letters, as Lucene's
  ASCIIFoldingFilter does: ø -> o, æ -> ae, œ -> oe, ł -> l, đ and ð -> d,
  þ -> th, ħ -> h, dotless i (U+0131) -> i ("Kobenhavn" finds "København",
  "Lodz" finds "Łódź"). Other scripts keep their letters, without marks.

Folding is idempotent. ASCII text, nearly all of it in practice, takes a fast
path (``str.isascii``, then ``lower``); other text costs a few tens of
microseconds per hundred characters, paid once per memory (the lexical
index's ``DocumentCache``) and once per query.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import filterfalse

__all__ = ["STOPWORDS", "capitalised_names", "fold", "query_terms", "words"]

# Letters with no decomposition, folded to what people type without them (above).
_LETTERS = (
    ("ø", "o"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("ł", "l"),
    ("đ", "d"),
    ("ð", "d"),
    ("þ", "th"),
    ("ħ", "h"),
    ("\u0131", "i"),  # dotless i
)


def fold(text: str) -> str:
    """``text`` case-folded, without accents, in plain letters (module docstring)."""
    if text.isascii():
        return text.lower()
    folded = "".join(
        filterfalse(unicodedata.combining, unicodedata.normalize("NFKD", text).casefold())
    )
    if not folded.isascii():
        for letter, plain in _LETTERS:
            folded = folded.replace(letter, plain)
    return folded


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
    """Folded word tokens (letters and digits; inner apostrophes kept)."""
    return _WORD.findall(fold(text))


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
                names.add(fold(token.split("'")[0]))
    return names
