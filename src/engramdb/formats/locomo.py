"""The LoCoMo conversation format (Maharana et al., ACL 2024) as memories.

Reads a LoCoMo JSON file (a list of samples) into one batch of turns per
conversation, and its questions with normalised evidence ids. Used by
``engram import --format locomo`` and by ``bench/locomo.py``; it does not
touch a store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engramdb.errors import InvalidInputError

__all__ = ["Conversation", "Question", "load", "parse_session_time", "turn_text"]

_SESSION_KEY = re.compile(r"^session_(\d+)$")
_DIA_ID = re.compile(r"D(\d+):0*(\d+)")


@dataclass(frozen=True, slots=True)
class Question:
    question: str
    category: int
    evidence: tuple[str, ...]  # normalised dia_ids that exist in the conversation
    answer: str


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    turns: tuple[dict[str, Any], ...]  # items for Memory.add_many
    questions: tuple[Question, ...]
    last_session_at: datetime


def parse_session_time(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime (LoCoMo gives no zone)."""
    try:
        parsed = datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y")  # noqa: DTZ007
    except ValueError as exc:
        raise InvalidInputError(f"unrecognised LoCoMo session time {text!r}") from exc
    return parsed.replace(tzinfo=timezone.utc)


def turn_text(turn: dict[str, Any]) -> str:
    """A turn's text; a shared photo's caption is kept, as a person would describe it."""
    text = str(turn.get("text", "")).strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares a photo: {str(caption).strip()}]".strip()
    return text


def load(path: str | Path) -> list[Conversation]:
    """Every conversation of a LoCoMo file."""
    try:
        samples = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read LoCoMo file {path}: {exc}") from exc
    if not isinstance(samples, list):
        raise InvalidInputError("a LoCoMo file holds a JSON list of samples")
    return [_conversation(sample, i) for i, sample in enumerate(samples)]


def _conversation(sample: Any, index: int) -> Conversation:
    try:
        conv = sample["conversation"]
        sample_id = str(sample.get("sample_id", f"conv-{index}"))
        speakers = (str(conv["speaker_a"]), str(conv["speaker_b"]))
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(f"LoCoMo sample {index} is malformed: missing {exc}") from exc
    turns: list[dict[str, Any]] = []
    last = None
    for number, session in _sessions(conv):
        when = parse_session_time(conv[f"session_{number}_date_time"])
        last = when if last is None or when > last else last
        for turn in session:
            turns.append(
                {
                    "text": turn_text(turn),
                    "speaker": str(turn["speaker"]),
                    "session": f"{sample_id}/session_{number}",
                    "occurred_at": when,
                    "metadata": {"dia_id": str(turn["dia_id"])},
                }
            )
    if last is None:
        raise InvalidInputError(f"LoCoMo sample {sample_id} has no sessions with turns")
    known = {t["metadata"]["dia_id"] for t in turns}
    questions = tuple(_questions(sample.get("qa", []), known))
    return Conversation(sample_id, speakers, tuple(turns), questions, last)


def _sessions(conv: dict[str, Any]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    numbered = []
    for key, value in conv.items():
        match = _SESSION_KEY.match(key)
        if match and isinstance(value, list) and value:
            numbered.append((int(match.group(1)), value))
    yield from sorted(numbered, key=lambda item: item[0])


def _questions(items: list[dict[str, Any]], known: set[str]) -> Iterator[Question]:
    for item in items:
        evidence: list[str] = []
        for raw in item.get("evidence", []):
            for session, turn in _DIA_ID.findall(str(raw)):
                dia_id = f"D{session}:{turn}"
                if dia_id in known and dia_id not in evidence:
                    evidence.append(dia_id)
        answer = item.get("answer", item.get("adversarial_answer", ""))
        yield Question(
            question=str(item["question"]),
            category=int(item["category"]),
            evidence=tuple(evidence),
            answer=str(answer),
        )
