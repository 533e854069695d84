"""The knowledge graph of the MCP reference memory server (``memory.jsonl``).

One JSON object a line: ``{"type": "entity", "name", "entityType",
"observations": [...]}`` or ``{"type": "relation", "from", "to",
"relationType"}``. Each observation becomes a memory ``"<name>: <observation>"``
with metadata ``entity`` and ``entity_type``; each relation a memory ``"<from>
<relation type> <to>"`` (underscores read as spaces) with metadata
``relation``, ``from`` and ``to``. An entity without observations says nothing
a search could find, and is skipped (docs/integrations/importers.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engramdb.formats.reading import Reading

__all__ = ["read"]


def read(text: str, namespace: str) -> Reading:
    reading = Reading()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            reading.skip(where, "not valid JSON")
            continue
        if not isinstance(record, Mapping):
            reading.skip(where, "not a JSON object")
        elif record.get("type") == "entity":
            _entity(reading, record, where, namespace)
        elif record.get("type") == "relation":
            _relation(reading, record, where, namespace)
        else:
            reading.skip(where, "neither an entity nor a relation")
    return reading


def _entity(reading: Reading, record: Mapping[str, Any], where: str, namespace: str) -> None:
    name, kind = record.get("name"), record.get("entityType")
    observations = record.get("observations") or []
    if not isinstance(name, str) or not name.strip() or not isinstance(observations, list):
        reading.skip(where, "an entity without a name or with malformed observations")
        return
    said = [o for o in observations if isinstance(o, str) and o.strip()]
    if not said:
        reading.skip(where, "an entity without observations")
        return
    metadata = {"entity": name, "entity_type": kind if isinstance(kind, str) else None}
    for index, observation in enumerate(said, start=1):
        reading.add(
            namespace,
            {
                "text": f"{name}: {observation}",
                "metadata": {k: v for k, v in metadata.items() if v is not None},
            },
            f"{where} observation {index}",
        )


def _relation(reading: Reading, record: Mapping[str, Any], where: str, namespace: str) -> None:
    source, target, kind = record.get("from"), record.get("to"), record.get("relationType")
    named = [v for v in (source, target, kind) if isinstance(v, str) and v.strip()]
    if len(named) < 3 or not isinstance(kind, str):
        reading.skip(where, "a relation without from, to or relationType")
        return
    reading.add(
        namespace,
        {
            "text": f"{source} {kind.replace('_', ' ')} {target}",
            "metadata": {"relation": kind, "from": source, "to": target},
        },
        where,
    )
