"""The SQLite schema as append-only numbered migrations.

Each migration runs once, in its own transaction, and records its number in
``schema_version``. Never edit a released migration: add the next one.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# The FTS table carries a per-namespace token (``ns``) so a lexical query is
# confined to one namespace inside the index itself, not filtered afterwards.
MIGRATIONS: tuple[str, ...] = (
    # 1: memories, versions, vectors, lexical index, change counters
    """
    CREATE TABLE engrams (
        rowid       INTEGER PRIMARY KEY,
        id          TEXT    NOT NULL UNIQUE,
        namespace   TEXT    NOT NULL,
        kind        TEXT    NOT NULL,
        session     TEXT,
        seq         INTEGER NOT NULL,
        speaker     TEXT,
        text        TEXT    NOT NULL,
        keys        TEXT    NOT NULL DEFAULT '',
        metadata    TEXT    NOT NULL,
        occurred_at TEXT    NOT NULL,
        recorded_at TEXT    NOT NULL,
        valid_from  TEXT    NOT NULL,
        version     INTEGER NOT NULL
    );
    CREATE INDEX engrams_namespace ON engrams (namespace, rowid);
    CREATE INDEX engrams_session ON engrams (namespace, session, seq);

    CREATE TABLE versions (
        engram_rowid INTEGER NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        version      INTEGER NOT NULL,
        text         TEXT    NOT NULL,
        speaker      TEXT,
        metadata     TEXT    NOT NULL,
        occurred_at  TEXT    NOT NULL,
        valid_from   TEXT    NOT NULL,
        valid_to     TEXT,
        PRIMARY KEY (engram_rowid, version)
    ) WITHOUT ROWID;

    CREATE TABLE vectors (
        engram_rowid INTEGER PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        model_id     TEXT    NOT NULL,
        dims         INTEGER NOT NULL,
        scale        REAL    NOT NULL,
        data         BLOB    NOT NULL
    );

    CREATE TABLE namespace_state (
        namespace  TEXT    PRIMARY KEY,
        generation INTEGER NOT NULL
    );

    CREATE VIRTUAL TABLE engram_fts USING fts5 (
        ns, text, keys,
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
