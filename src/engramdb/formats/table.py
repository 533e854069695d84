"""Any table of memories, CSV or JSONL, with a mapping of its columns onto a memory.

``mapping`` names the column of each field of a memory (``text``, ``speaker``,
``session``, ``occurred_at``, ``namespace``, ``importance``, ``emotion``,
``idempotency_key``); a field it leaves out is read from the column of the
same name when there is one. Every other column goes into the memory's
metadata under its own name (an empty CSV cell is left out). A row without
text, or whose time or importance does not read, is skipped with the reason
(docs/integrations/importers.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engramdb.errors import InvalidInputError
from engramdb.formats.reading import Reading, jsonl_objects, time_of

__all__ = ["FIELDS", "csv_rows", "jsonl_rows", "parse_mapping", "read"]

FIELDS = (
    "text",
    "speaker",
    "session",
    "occurred_at",
    "namespace",
    "importance",
    "emotion",
    "idempotency_key",
)
Row = tuple[str, Mapping[str, Any]]  # where it is in the file, and its columns


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["text=content", "speaker=author"]`` as ``{"text": "content", ...}``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, _, column = pair.partition("=")
        field, column = field.strip(), column.strip()
        if field not in FIELDS or not column:
            raise InvalidInputError(
                f"--map {pair!r}: expected FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}"
            )
        if field in mapping:
            raise InvalidInputError(f"--map names the column of {field} twice")
        mapping[field] = column
    return mapping


def csv_rows(text: str) -> Iterator[Row]:
    """Each row of a CSV text with a header line, by column name."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidInputError("the CSV file has no header line naming its columns")
    for row in reader:
        yield f"line {reader.line_num}", {k: v for k, v in row.items() if k is not None}


def jsonl_rows(text: str, source: str) -> Iterator[Row]:
    for number, value in jsonl_objects(text.splitlines(), source):
        yield f"line {number}", value


def read(rows: Iterator[Row], mapping: Mapping[str, str], namespace: str) -> Reading:
    reading = Reading()
    columns = {field: mapping.get(field, field) for field in FIELDS}
    used = set(columns.values())
    read_any = has_text = False
    for where, row in rows:
        read_any = True
        has_text = has_text or columns["text"] in row
        found = {field: _value(row.get(column)) for field, column in columns.items()}
        text = found["text"]
        if not isinstance(text, str) or not text.strip():
            reading.skip(where, "no text")
            continue
        try:
            found["occurred_at"] = time_of(found["occurred_at"])
            if isinstance(found["importance"], str):
                found["importance"] = float(found["importance"])
        except (InvalidInputError, ValueError) as exc:
            reading.skip(where, f"a value that does not read ({exc})")
            continue
        metadata = {k: v for k, v in row.items() if k not in used and _value(v) is not None}
        target = found.pop("namespace")
        reading.add(
            str(target) if target is not None else namespace, {**found, "metadata": metadata}, where
        )
    if read_any and not has_text:
        raise InvalidInputError(
            f"no row has a column {columns['text']!r} for the text: name it with --map text=COLUMN"
        )
    return reading


def _value(value: object) -> Any:
    """A cell as a value: an empty CSV cell is none."""
    return None if value is None or value == "" else value
