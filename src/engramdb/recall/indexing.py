"""Write-side indexing: what a memory is indexed under, beyond its text.

A question phrased differently from the memory should still meet it, so each
memory is indexed with keys beyond its text: the speaker's name, and
resolved dates and other derived terms. Keys are searchable, never shown as
the memory's text, and recomputed on update and reindex. ``embedding_text`` is
the text its vector is computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engramdb.recall.when import find_times

__all__ = ["embedding_text", "index_keys"]


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


def embedding_text(text: str, speaker: str | None) -> str:
    """The text a memory's vector is computed from: who said it, then what.

    Questions usually name the person ("What did Caroline research?"); with the
    speaker in the embedded text, dense recall on LoCoMo rises from 0.30 to 0.51
    Recall@10 (bench/locomo.py, dense baseline; BENCHMARKS.md).
    """
    return f"{speaker}: {text}" if speaker else text
