"""Which episodes a statement's words come from (docs/security.md, "Erasure that
reaches the files").

An extractor names one episode per statement, but one that reads a whole batch at
once (the LLM extractor) may pin a statement on the wrong turn: "Maya lives in
Plumtrazk" given as turn 0, when only turn 5 says "Plumtrazk". A fact's sources
are what erasure follows, so each episode of the batch that holds a word of the
statement (its subject or value) which the named episode lacks is a source too:
erasing it erases the fact. This module only finds those episodes; the ledger
records them (``supersede.Ledger.record``). It does not judge whether a statement
is true, and words found in no episode of the batch (a model's own wording) are
nobody's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engramdb.consolidate.extract import Extraction
from engramdb.model import Engram

__all__ = ["Lenders", "words"]

# Words of three letters or more: "s" of "Maya's", "a" or "2" say nothing of
# where a statement came from, and would name half the batch.
_WORD = re.compile(r"[^\W_]{3,}")


def words(text: str | None) -> frozenset[str]:
    """The casefolded words of ``text`` that can tell where a statement came from."""
    return frozenset(_WORD.findall(text.casefold())) if text else frozenset()


class Lenders:
    """The words of one batch's episodes (text and speaker), to find where a
    statement's words come from."""

    def __init__(self, episodes: Sequence[Engram]) -> None:
        self._episodes = list(episodes)
        self._words = {e.id: words(e.text) | words(e.speaker) for e in self._episodes}

    def of(self, statement: Extraction, episode: Engram) -> tuple[str, ...]:
        """The other episodes of the batch (ids, in batch order) that hold a word of
        ``statement`` that ``episode``, the one it was given as said in, does not."""
        missing = (words(statement.subject) | words(statement.value)) - self._words.get(
            episode.id, words(episode.text) | words(episode.speaker)
        )
        if not missing:
            return ()
        return tuple(
            e.id for e in self._episodes if e.id != episode.id and self._words[e.id] & missing
        )
