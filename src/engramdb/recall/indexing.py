"""Write-side indexing: what a memory is indexed under, beyond its text.

A question phrased differently from the memory should still meet it, so each
memory is indexed with keys beyond its text: the speaker's name, and
resolved dates and other derived terms. Keys are searchable, never shown as
the memory's text, and recomputed on update and reindex. ``embedding_text`` is
the text its vector is computed from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engramdb.recall.when import find_times

__all__ = ["embedding_text", "index_keys", "keys_of"]

# What ``index_keys`` puts after the speaker: resolved dates, as ``TimeWindow.label`` says them
_LABELS = re.compile(r"(?: (?:week of )?(?:\d{1,2} )?(?:[^\W\d_]+ )?\d{4}(?: [^\W\d_]+)?)*")


def index_keys(
    text: str, speaker: str | None, occurred_at: datetime, metadata: Mapping[str, Any]
) -> str:
    """The extra lexical keys of one memory, as one space-separated string."""
    keys: list[str] = []
    if speaker:
        keys.append(speaker)
    # "yesterday" said on 8 May 2023 is indexed as "7 May 2023 Sunday", so a question
    # naming the date (or the day) meets the memory.
    for window in find_times(text, occurred_at):
        label = window.label()
        if label not in keys:
            keys.append(label)
    return " ".join(keys)


def keys_of(document: str, speaker: str | None) -> str:
    """The index keys at the end of a memory's lexical document (its text, then its keys,
    as the stores join them): the speaker's name and the resolved dates after it.

    Empty when the memory has no speaker, or the document does not end in the keys
    ``index_keys`` writes: without the speaker to start them, dates resolved from the
    text cannot be told from the text's own words.
    """
    if not speaker:
        return ""
    end = len(document)
    while (at := document.rfind(speaker, 0, end)) >= 0:
        rest = document[at + len(speaker) :]
        if (at == 0 or document[at - 1] == " ") and _LABELS.fullmatch(rest):
            return document[at:]
        end = at
    return ""


def embedding_text(text: str, speaker: str | None) -> str:
    """The text a memory's vector is computed from: who said it, then what.

    Questions usually name the person ("What did Caroline research?"); with the
    speaker in the embedded text, dense recall on LoCoMo rises from 0.30 to 0.51
    Recall@10 (bench/locomo.py, dense baseline; BENCHMARKS.md).
    """
    return f"{speaker}: {text}" if speaker else text
