"""Chat transcripts as OpenAI-style message lists (``{"role", "content", "name"}``).

A JSON file holds one conversation (a list of messages, or ``{"messages":
[...]}``) or a list of them; a JSONL file one conversation a line (the
``{"messages": [...]}`` lines of a fine-tuning file) or one message a line
(one conversation). Each user and assistant message becomes a memory: its
text (a list of content parts gives its text parts), ``name`` or else the
role as speaker, the conversation's ``id`` (else ``<file>-<n>``) as session,
and ``created_at`` or ``timestamp`` as event time when the message has one.
System, developer and tool messages, and assistant turns that only call
tools, are skipped, each counted in the report (docs/integrations/importers.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engramdb.errors import InvalidInputError
from engramdb.formats.reading import Reading, load_json, time_of

__all__ = ["read"]

_SPOKEN = ("user", "assistant")
#: The content parts that hold text (chat completions; the Responses API).
_TEXT_PARTS = ("text", "input_text", "output_text", None)


def read(text: str, source: str, namespace: str, *, jsonl: bool) -> Reading:
    stem = source.rsplit(".", 1)[0]
    reading = Reading()
    for number, (session, messages) in enumerate(_conversations(text, source, jsonl), 1):
        session = session or f"{stem}-{number}"
        for index, message in enumerate(messages, start=1):
            _message(reading, message, f"conversation {number} message {index}", session, namespace)
    return reading


def _conversations(text: str, source: str, jsonl: bool) -> list[tuple[str | None, list[Any]]]:
    if not jsonl:
        found = load_json(text, source)
        if isinstance(found, list) and found and all(_is_message(m) for m in found):
            return [(None, found)]
        listed = found if isinstance(found, list) else [found]
        return [_conversation(c, source, f"conversation {i}") for i, c in enumerate(listed, 1)]
    lines = [
        (number, _line(line, source, number))
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]
    if lines and all(_is_message(value) for _, value in lines):
        return [(None, [value for _, value in lines])]
    return [_conversation(value, source, f"line {number}") for number, value in lines]


def _line(line: str, source: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{source} line {number}: not valid JSON: {exc}") from None


def _is_message(value: object) -> bool:
    return isinstance(value, Mapping) and "role" in value


def _conversation(value: object, source: str, where: str) -> tuple[str | None, list[Any]]:
    if isinstance(value, list):
        return None, value
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        session = value.get("id", value.get("session"))
        return (None if session is None else str(session)), value["messages"]
    raise InvalidInputError(
        f"{source} {where}: expected a list of messages or an object with messages"
    )


def _message(reading: Reading, message: object, where: str, session: str, namespace: str) -> None:
    if not isinstance(message, Mapping):
        reading.skip(where, "not a message object")
        return
    role = message.get("role")
    if role not in _SPOKEN:
        reading.skip(where, f"a {role} message" if isinstance(role, str) else "no role")
        return
    text = _text(message.get("content"))
    if not text:
        calls = message.get("tool_calls") or message.get("function_call")
        reading.skip(where, "a tool call" if calls else "no text")
        return
    try:
        occurred_at = time_of(message.get("created_at", message.get("timestamp")))
    except InvalidInputError as exc:
        reading.skip(where, f"a timestamp that is not a time ({exc})")
        return
    name = message.get("name")
    reading.add(
        namespace,
        {
            "text": text,
            "speaker": name if isinstance(name, str) and name.strip() else role,
            "session": session,
            "occurred_at": occurred_at,
        },
        where,
    )


def _text(content: object) -> str:
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [
            p.get("text") if isinstance(p, Mapping) else p
            for p in content
            if isinstance(p, str) or (isinstance(p, Mapping) and p.get("type") in _TEXT_PARTS)
        ]
        return "\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return ""
