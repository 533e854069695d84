"""What ``check()`` reads value by value: stored values engramdb could not have written.

SQLite's own checks see pages and b-trees, not values: a flipped bit inside a
value leaves a well-formed file. This module owns the probes that read the
values themselves (docs/reliability.md, "Damage"):

- ``drifted``: a schema that is not the one the migrations make (a flipped bit
  in a table's, index's or trigger's SQL that still parses);
- ``undecodable``: text that is not UTF-8, by table, column and row (every
  other read of such a value raises in ``sqlite3``);
- ``malformed``: values out of the form engramdb writes: ids of 32 hex
  digits, the fixed-width UTC time form (``clock.to_iso``), a known kind,
  emotion, fact status or link relation, metadata that is a JSON object,
  versions and sequence numbers from 1, dynamics within their ranges;
- ``disagreeing``: copies that must be equal and are not: a memory's row and
  its current version, and, in a plaintext store, its row and its lexical
  index row (FTS5 keeps its own copy of the text), a fact or a link and the
  namespace of its memories, consolidation's mark of what it consumed and the
  episodes' own marks.

What it deliberately does not do: decide what a sound store holds (the
orphan and index counts are ``maintenance``'s), open sealed values (an
encrypted store's are authenticated: ``sealing.unopenable``), or catch a flip
that turns a value into another well-formed one with no copy to compare with:
the row checksums do (``checksums``: a memory's row, its versions, and its
dynamics, vector, fact, links and consolidation's mark; docs/reliability.md,
"What check cannot see").
"""

from __future__ import annotations

import functools
import sqlite3

from engramdb.store.sqlite.database import Database

__all__ = [
    "EMOTIONS",
    "FACT_STATUSES",
    "KINDS",
    "RELATIONS",
    "disagreeing",
    "drifted",
    "malformed",
    "undecodable",
]

# The values the layers above write (tests/store/test_damage.py checks these
# against validation.KINDS, dynamics.emotion.EMOTIONS and consolidation's links).
KINDS = ("episode", "fact", "summary", "experience", "concept")
EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
FACT_STATUSES = ("current", "superseded", "stale")
RELATIONS = ("derived", "duplicate", "extracted", "summarizes")

_EXAMPLES = 3  # rows named per rule; the rest are counted

# clock.to_iso's fixed-width form, and a date that exists (SQLite's strftime
# normalises 2026-02-30 to March, so the round trip differs)
_TIME = (
    "({c} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:"
    "[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z' "
    "AND strftime('%Y-%m-%dT%H:%M:%S', substr({c}, 1, 19)) IS substr({c}, 1, 19))"
)
_ID = "(typeof(id) = 'text' AND length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*')"


def _time(column: str, *, optional: bool = False) -> str:
    form = _TIME.format(c=column)
    return f"({column} IS NULL OR {form})" if optional else form


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _count_from(column: str, low: int = 1) -> str:
    return f"(typeof({column}) = 'integer' AND {column} >= {low})"


def _json_object(column: str) -> str:
    return f"(json_valid({column}) AND json_type({column}) = 'object')"


# (table, what the rows are called by, rule described, condition every row meets);
# ``plain`` rules read values an encrypted store seals.
_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("engrams", "rowid", "id is not 32 hex digits", _ID),
    ("engrams", "rowid", f"kind is not one of {', '.join(KINDS)}", _among("kind", KINDS)),
    ("engrams", "rowid", "seq is not a whole number from 1", _count_from("seq")),
    ("engrams", "rowid", "version is not a whole number from 1", _count_from("version")),
    ("engrams", "rowid", "occurred_at is not a stored time", _time("occurred_at")),
    ("engrams", "rowid", "recorded_at is not a stored time", _time("recorded_at")),
    ("engrams", "rowid", "valid_from is not a stored time", _time("valid_from")),
    (
        "versions",
        "engram_rowid",
        "version is not a whole number from 1",
        _count_from("version"),
    ),
    ("versions", "engram_rowid", "occurred_at is not a stored time", _time("occurred_at")),
    ("versions", "engram_rowid", "valid_from is not a stored time", _time("valid_from")),
    (
        "versions",
        "engram_rowid",
        "valid_to is not a stored time after valid_from",
        f"({_time('valid_to', optional=True)} AND (valid_to IS NULL OR valid_to >= valid_from))",
    ),
    (
        "dynamics",
        "engram_rowid",
        "stability_days is not a positive number",
        "(typeof(stability_days) IN ('real', 'integer') AND stability_days > 0 "
        "AND stability_days < 1e300)",
    ),
    (
        "dynamics",
        "engram_rowid",
        "importance is not within 0..1",
        "(typeof(importance) IN ('real', 'integer') AND importance BETWEEN 0 AND 1)",
    ),
    (
        "dynamics",
        "engram_rowid",
        "valence is not within -1..1",
        "(typeof(valence) IN ('real', 'integer') AND valence BETWEEN -1 AND 1)",
    ),
    (
        "dynamics",
        "engram_rowid",
        "arousal is not within 0..1",
        "(typeof(arousal) IN ('real', 'integer') AND arousal BETWEEN 0 AND 1)",
    ),
    ("dynamics", "engram_rowid", "recalls is not a whole number", _count_from("recalls", 0)),
    ("dynamics", "engram_rowid", "dormant is not 0 or 1", "dormant IN (0, 1)"),
    (
        "dynamics",
        "engram_rowid",
        "last_recalled_at is not a stored time",
        _time("last_recalled_at", optional=True),
    ),
    (
        "facts",
        "engram_rowid",
        f"status is not one of {', '.join(FACT_STATUSES)}",
        _among("status", FACT_STATUSES),
    ),
    ("facts", "engram_rowid", "valid_from is not a stored time", _time("valid_from")),
    ("facts", "engram_rowid", "valid_to is not a stored time", _time("valid_to", optional=True)),
    ("facts", "engram_rowid", "recorded_at is not a stored time", _time("recorded_at")),
    (
        "facts",
        "engram_rowid",
        "invalidated_at is not a stored time",
        _time("invalidated_at", optional=True),
    ),
    (
        "provenance",
        "derived_rowid",
        f"relation is not one of {', '.join(RELATIONS)}",
        _among("relation", RELATIONS),
    ),
    (
        "vectors",
        "engram_rowid",
        "scale is not a positive number",
        "(typeof(scale) IN ('real', 'integer') AND scale > 0 AND scale < 1e300)",
    ),
)
_TEXT = "(typeof(text) = 'text' AND text != '')"
_PLAIN_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("engrams", "rowid", "text is empty or not text", _TEXT),
    ("engrams", "rowid", "metadata is not a JSON object", _json_object("metadata")),
    ("versions", "engram_rowid", "text is empty or not text", _TEXT),
    ("versions", "engram_rowid", "metadata is not a JSON object", _json_object("metadata")),
    (
        "dynamics",
        "engram_rowid",
        f"emotion is not one of {', '.join(EMOTIONS)}",
        _among("emotion", EMOTIONS),
    ),
)

# Copies that must agree: (what disagrees, SQL selecting the rowids of the memories
# concerned). Both kinds of store, then the plaintext store's own.
_COPIES: tuple[tuple[str, str], ...] = (
    (
        "the memory's row and its current version disagree (occurred_at, valid_from or valid_to)",
        "SELECT e.rowid FROM engrams e JOIN versions v "
        "ON v.engram_rowid = e.rowid AND v.version = e.version "
        "WHERE v.occurred_at IS NOT e.occurred_at OR v.valid_from IS NOT e.valid_from "
        "OR v.valid_to IS NOT NULL",
    ),
    (
        "the fact's namespace is not its memory's",
        "SELECT f.engram_rowid FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid "
        "WHERE f.namespace IS NOT e.namespace OR e.kind != 'fact'",
    ),
    (
        "a link joins memories of two namespaces",
        "SELECT p.derived_rowid FROM provenance p "
        "JOIN engrams d ON d.rowid = p.derived_rowid "
        "JOIN engrams s ON s.rowid = p.source_rowid WHERE d.namespace IS NOT s.namespace",
    ),
    (
        # consumed_to says every episode at or below it is consolidated at its current
        # version (schema migration 9): consolidation never looks below it again
        "consolidation's mark of what is consumed passes an episode not consolidated",
        "SELECT e.rowid FROM consolidation_state s "
        "JOIN engrams e ON e.namespace = s.namespace AND e.rowid <= s.consumed_to "
        "LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
        "WHERE e.kind = 'episode' AND (c.engram_rowid IS NULL OR c.version < e.version)",
    ),
)
_PLAIN_COPIES: tuple[tuple[str, str], ...] = (
    (
        "the memory's row and its current version disagree (text, speaker or metadata)",
        "SELECT e.rowid FROM engrams e JOIN versions v "
        "ON v.engram_rowid = e.rowid AND v.version = e.version "
        "WHERE v.text IS NOT e.text OR v.speaker IS NOT e.speaker "
        "OR v.metadata IS NOT e.metadata",
    ),
    (
        "the memory's row and its lexical index row disagree (text or keys)",
        "SELECT e.rowid FROM engrams e JOIN engram_fts f ON f.rowid = e.rowid "
        "WHERE f.text IS NOT e.text OR f.keys IS NOT e.keys",
    ),
)


def malformed(conn: sqlite3.Connection, *, encrypted: bool) -> list[str]:
    """Rows whose values are not of the form engramdb writes, one line per rule."""
    rules = _RULES if encrypted else _RULES + _PLAIN_RULES
    found: list[str] = []
    for table, key, rule, condition in rules:
        rowids = [
            int(r[0]) for r in conn.execute(f"SELECT {key} FROM {table} WHERE NOT {condition}")
        ]
        if rowids:
            found.append(f"{table}: {rule} ({_rows(rowids)})")
    return found


def disagreeing(conn: sqlite3.Connection, *, encrypted: bool) -> list[str]:
    """Copies of one value that disagree, one line per kind of copy."""
    copies = _COPIES if encrypted else _COPIES + _PLAIN_COPIES
    found: list[str] = []
    for what, sql in copies:
        rowids = [int(r[0]) for r in conn.execute(sql)]
        if rowids:
            found.append(f"{what} ({_rows(rowids)})")
    return found


def drifted(conn: sqlite3.Connection) -> list[str]:
    """Tables, indexes and triggers whose SQL is not what the migrations make, and
    those missing (the schema lives in the file: a flipped bit in it can still parse)."""
    expected, found = _reference(), _schema(conn)
    names = {name: kind for kind, name, _ in expected}
    out = [
        f"schema: the {kind} {name!r} is not as the migrations make it"
        if name in names
        else f"schema: a {kind} {name!r} the migrations do not make"
        for kind, name, _ in sorted(found - expected)
    ]
    present = {name for _, name, _ in found}
    out += [f"schema: the {names[n]} {n!r} is missing" for n in sorted(names.keys() - present)]
    return out


@functools.cache
def _reference() -> frozenset[tuple[str, str, str]]:
    """The schema a new store has, made by the migrations in memory."""
    db = Database(":memory:", read_only=False, prepare=lambda _: None)
    try:
        return _schema(db.conn)
    finally:
        db.close()


def _schema(conn: sqlite3.Connection) -> frozenset[tuple[str, str, str]]:
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
    return frozenset((str(kind), str(name), str(sql)) for kind, name, sql in rows)


def undecodable(conn: sqlite3.Connection) -> list[str]:
    """Text values that are not UTF-8 (a flipped bit), by table, column and row.

    Reading such a value raises in sqlite3, so every other probe that meets it
    fails; this one reads the raw bytes and names where they are. A table
    without rowids is named by its primary key.
    """
    tables = [
        (str(r[0]), "WITHOUT ROWID" in str(r[1]).upper())
        for r in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    columns = {
        table: conn.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
        for table, _ in tables
    }
    found: list[str] = []
    previous = conn.text_factory
    conn.text_factory = bytes  # the raw bytes: decoding them is the probe
    try:
        for table, without_rowid in tables:
            info = columns[table]
            keys = [str(r[1]) for r in sorted(info, key=lambda r: int(r[5])) if r[5]]
            key = ", ".join(map(_quoted, keys)) if without_rowid else "rowid"
            for column in (str(r[1]) for r in info):
                # the names come from sqlite_master, quoted
                rows = conn.execute(
                    f"SELECT {key}, {_quoted(column)} FROM {_quoted(table)} "
                    f"WHERE typeof({_quoted(column)}) = 'text'"
                )
                for *where, value in rows:
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        name = "/".join(str(w) for w in where)
                        found.append(f"{table} row {name}: column {column!r} is not valid UTF-8")
    finally:
        conn.text_factory = previous
    return found


def _rows(rowids: list[int]) -> str:
    named = ", ".join(str(r) for r in rowids[:_EXAMPLES])
    more = len(rowids) - _EXAMPLES
    label = "row" if len(rowids) == 1 else "rows"
    return f"{label} {named}" + (f" and {more} more" if more > 0 else "")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
