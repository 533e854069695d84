"""mem0's memories: its ``get_all`` export (JSON) and its SQLite history database.

The export is what ``Memory.get_all()`` returns, saved as JSON: ``{"results":
[...]}`` or the bare list, each memory ``{"id", "memory", "hash", "metadata",
"created_at", "updated_at", "user_id", "agent_id", "run_id", "actor_id",
"role"}``. Each becomes one memory (docs/integrations/importers.md):

- text: ``memory``; event time: ``created_at`` (a naive time is UTC);
- namespace: the scope it was stored under, ``user-<user_id>``, then
  ``agent-<agent_id>`` and ``run-<run_id>`` as present, joined by ``:`` (the
  way nested namespaces are named): ``user-42:agent-x``; a character a namespace
  cannot hold becomes ``-``. ``namespace`` given instead puts all in one;
- metadata: mem0's own metadata, plus ``mem0_id``, ``user_id``, ``agent_id``,
  ``run_id``, ``actor_id``, ``role`` and ``mem0_updated_at`` where present;
- speaker: ``actor_id``; idempotency key ``mem0:<id>``, so importing the same
  file twice stores nothing twice (docs/repetition.md).

The history database (``history.db``, table ``history``: ``memory_id``,
``old_memory``, ``new_memory``, ``event``, ``created_at``, ``updated_at``,
``is_deleted``, ``actor_id``, ``role``) gives each memory's latest text; a
memory whose last event deleted it is skipped. It holds no user, agent or
run, so its memories go to ``namespace``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engramdb import wire
from engramdb.errors import InvalidInputError
from engramdb.formats.reading import Reading, load_json, time_of
from engramdb.store.sqlite.foreign import read_table

__all__ = ["SCOPES", "read", "read_export", "read_history", "scope_namespace"]

#: mem0's scoping fields, in the order they nest, with the label of each part.
SCOPES = (("user_id", "user"), ("agent_id", "agent"), ("run_id", "run"))
_PROMOTED = ("user_id", "agent_id", "run_id", "actor_id", "role")
_HISTORY_COLUMNS = ("memory_id", "new_memory", "event", "created_at", "updated_at", "is_deleted")
_HISTORY_OPTIONAL = ("actor_id", "role")
_NOT_NAME = re.compile(r"[^A-Za-z0-9._@-]+")
_SQLITE_HEADER = b"SQLite format 3\x00"


def read(path: Path, namespace: str | None, default: str) -> Reading:
    """A mem0 file: the history database when it is SQLite, else the JSON export."""
    with path.open("rb") as stream:
        is_database = stream.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    if is_database:
        return read_history(path, namespace or default)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name} is not UTF-8 text: {exc}") from None
    return read_export(load_json(text, path.name), namespace, default)


def scope_namespace(memory: Mapping[str, Any]) -> str | None:
    """The namespace of a mem0 memory's scope, or None when it has none."""
    parts = []
    for key, label in SCOPES:
        value = memory.get(key)
        if value is not None and str(value) != "":
            parts.append(f"{label}-{_NOT_NAME.sub('-', str(value))}")
    return ":".join(parts) or None


def read_export(found: Any, namespace: str | None, default: str) -> Reading:
    """``get_all``'s answer; ``namespace`` None: each memory's own scope (else ``default``)."""
    if isinstance(found, Mapping) and "results" in found:
        found = found["results"]
    if not isinstance(found, list):
        raise InvalidInputError(
            'a mem0 export is the JSON of get_all(): {"results": [...]} or a list of memories'
        )
    reading = Reading()
    for number, memory in enumerate(found, start=1):
        where = f"memory {number}"
        if not isinstance(memory, Mapping):
            reading.skip(where, "not a JSON object")
            continue
        text = memory.get("memory", memory.get("data"))
        if not isinstance(text, str) or not text.strip():
            reading.skip(where, "no memory text")
            continue
        try:
            occurred_at = time_of(memory.get("created_at"))
            updated_at = time_of(memory.get("updated_at"))
        except InvalidInputError as exc:
            reading.skip(where, f"a timestamp that is not a time ({exc})")
            continue
        metadata = memory.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            reading.skip(where, "metadata that is not a JSON object")
            continue
        own = {k: memory[k] for k in _PROMOTED if memory.get(k) not in (None, "")}
        mem0_id = memory.get("id")
        extra = {
            **metadata,
            **own,
            "mem0_id": None if mem0_id is None else str(mem0_id),
            "mem0_updated_at": None if updated_at is None else wire.time_to_json(updated_at),
        }
        target = namespace or scope_namespace(memory) or default
        reading.add(
            target,
            {
                "text": text,
                "speaker": own.get("actor_id"),
                "occurred_at": occurred_at,
                "metadata": {k: v for k, v in extra.items() if v is not None},
                "idempotency_key": None if mem0_id is None else f"mem0:{mem0_id}",
            },
            where,
        )
    return reading


def read_history(path: Path, namespace: str) -> Reading:
    """Each memory of mem0's history database at its latest text, into ``namespace``."""
    rows = read_table(path, "history", _HISTORY_COLUMNS, optional=_HISTORY_OPTIONAL)
    reading = Reading()
    for memory_id, events in _by_memory(rows).items():
        where = f"memory {memory_id}"
        last = events[-1]
        if bool(last.get("is_deleted")) or str(last.get("event", "")).upper() == "DELETE":
            reading.skip(where, "deleted in mem0")
            continue
        texts = [e["new_memory"] for e in events if isinstance(e.get("new_memory"), str)]
        if not texts or not texts[-1].strip():
            reading.skip(where, "no memory text")
            continue
        try:
            occurred_at = time_of(events[0].get("created_at"))
            updated_at = time_of(last.get("updated_at") or last.get("created_at"))
        except InvalidInputError as exc:
            reading.skip(where, f"a timestamp that is not a time ({exc})")
            continue
        metadata = {
            "mem0_id": memory_id,
            "mem0_versions": len(texts),
            "mem0_updated_at": None if updated_at is None else wire.time_to_json(updated_at),
            "actor_id": last.get("actor_id"),
            "role": last.get("role"),
        }
        reading.add(
            namespace,
            {
                "text": texts[-1],
                "speaker": last.get("actor_id"),
                "occurred_at": occurred_at,
                "metadata": {k: v for k, v in metadata.items() if v not in (None, "")},
                "idempotency_key": f"mem0:{memory_id}",
            },
            where,
        )
    return reading


def _by_memory(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The events of each memory in the order they happened (as mem0 orders them)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("memory_id") is not None:
            found.setdefault(str(row["memory_id"]), []).append(row)
    for events in found.values():
        events.sort(key=lambda e: (str(e.get("created_at") or ""), str(e.get("updated_at") or "")))
    return found
