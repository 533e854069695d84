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
    # 2: consolidation (docs/consolidation.md). Facts and summaries are rows of ``engrams``
    # (kind "fact" / "summary"), so search, history, export and erasure reach
    # them; ``facts`` adds their structure and bi-temporal validity (event time
    # valid_from/valid_to, record time recorded_at/invalidated_at);
    # ``provenance`` links a derived memory to each memory it came from (both
    # ends cascade; a delete in the store also removes the memories derived
    # from what it deletes: store.derivation.taken_along_all); ``consolidated`` marks
    # each episode version consumed, so runs are incremental, idempotent and
    # resumable (a mark per episode, not a rowid high-water mark: SQLite may
    # reuse the largest rowid after a delete).
    """
    CREATE TABLE facts (
        engram_rowid   INTEGER PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        namespace      TEXT    NOT NULL,
        subject        TEXT    NOT NULL,
        attribute      TEXT    NOT NULL,
        value          TEXT    NOT NULL,
        valid_from     TEXT    NOT NULL,
        valid_to       TEXT,
        recorded_at    TEXT    NOT NULL,
        invalidated_at TEXT,
        status         TEXT    NOT NULL CHECK (status IN ('current', 'superseded', 'stale')),
        superseded_by  TEXT
    );
    CREATE INDEX facts_key ON facts (namespace, subject, attribute, valid_from);

    CREATE TABLE provenance (
        derived_rowid INTEGER NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        source_rowid  INTEGER NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        relation      TEXT    NOT NULL,
        PRIMARY KEY (derived_rowid, source_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX provenance_source ON provenance (source_rowid);

    CREATE TABLE consolidated (
        engram_rowid INTEGER PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        version      INTEGER NOT NULL
    );

    CREATE TABLE consolidation_state (
        namespace   TEXT    PRIMARY KEY,
        runs        INTEGER NOT NULL,
        episodes    INTEGER NOT NULL,
        updated_at  TEXT    NOT NULL
    );
    """,
    # next: memory dynamics (docs/dynamics.md). One row per memory, written with it and
    # gone with it (cascade): stability S (days), importance, emotion, recalls,
    # dormancy. Not versioned: it describes the memory's strength, not its
    # content. Memories of older stores get the defaults of model.py
    # (importance 0.5, S 12 days) from the backfill.
    """
    CREATE TABLE dynamics (
        engram_rowid     INTEGER PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        stability_days   REAL    NOT NULL,
        importance       REAL    NOT NULL,
        valence          REAL    NOT NULL DEFAULT 0,
        arousal          REAL    NOT NULL DEFAULT 0,
        emotion          TEXT    NOT NULL DEFAULT 'neutral',
        recalls          INTEGER NOT NULL DEFAULT 0,
        last_recalled_at TEXT,
        dormant          INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO dynamics (engram_rowid, stability_days, importance)
        SELECT rowid, 12.0, 0.5 FROM engrams;
    """,
    # 4: encryption at rest (docs/security.md). ``crypto`` has one row
    # in an encrypted store and none in a plaintext one: the key-derivation
    # parameters (a passphrase's scrypt salt), a verifier that only the right
    # master key opens, and whether vectors are sealed too. ``namespace_keys``
    # holds each namespace's data key wrapped by the master key; rotation
    # rewrites ``wrapped`` only, and forgetting a namespace deletes its row.
    """
    CREATE TABLE crypto (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        scheme         TEXT    NOT NULL,
        params         TEXT    NOT NULL,
        verifier       BLOB    NOT NULL,
        vectors_sealed INTEGER NOT NULL,
        created_at     TEXT    NOT NULL,
        rotated_at     TEXT
    );

    CREATE TABLE namespace_keys (
        namespace  TEXT PRIMARY KEY,
        key_id     BLOB NOT NULL,
        wrapped    BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 5: per-namespace memory budgets (docs/dynamics.md), stored so that they
    # survive a restart and every process opening the store honours them. A
    # NULL bound is no bound; a namespace without a row has no budget.
    """
    CREATE TABLE budgets (
        namespace    TEXT    PRIMARY KEY,
        max_memories INTEGER,
        max_bytes    INTEGER
    );
    """,
    # 6: two-stage recall (docs/recall.md) finds the memories of a "when" question's
    # time window by event time, without reading the namespace
    """
    CREATE INDEX engrams_occurred ON engrams (namespace, occurred_at);
    """,
    # 7: the vector change log (store/sqlite/cache.py, "The saved vector index").
    # Triggers note every write of a vector (cascading deletes included) under a
    # number that only grows, so a process holding a vector index that covers
    # the log up to some number reads only the rows changed since, instead of
    # rebuilding. ``vector_log.epoch`` is drawn anew when a backup replaces the
    # content (an index made before then no longer applies); entries up to
    # ``pruned_to`` may be gone. ``namespace_state.born`` is drawn when a
    # namespace's row is made, so an index made before the namespace was
    # forgotten (its entries erased with it) is never caught up, but rebuilt.
    """
    CREATE TABLE vector_changes (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        engram_rowid INTEGER NOT NULL
    );
    CREATE TABLE vector_log (epoch INTEGER NOT NULL, pruned_to INTEGER NOT NULL);
    INSERT INTO vector_log (epoch, pruned_to) VALUES ((random() & 4611686018427387903) + 1, 0);
    ALTER TABLE namespace_state ADD COLUMN born INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER vectors_inserted AFTER INSERT ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (NEW.engram_rowid);
    END;
    CREATE TRIGGER vectors_updated AFTER UPDATE ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (NEW.engram_rowid);
    END;
    CREATE TRIGGER vectors_deleted AFTER DELETE ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (OLD.engram_rowid);
    END;
    """,
    # 8: search filters (docs/filters.md, store/sqlite/fields.py). One row per memory and
    # filterable value (speaker, session, each metadata value or list element): the
    # field, the value's equality key and, in a plaintext store, the number or string
    # for ordering; keyed tokens of field and key in an encrypted one. The table is
    # its own index (namespace, field, key); ``fields_pending`` lists the namespaces
    # written before it, indexed from their rows the first time a filter reads them.
    """
    CREATE TABLE fields (
        namespace    TEXT    NOT NULL,
        field        TEXT    NOT NULL,
        key          TEXT    NOT NULL,
        number       REAL,
        text         TEXT,
        engram_rowid INTEGER NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        PRIMARY KEY (namespace, field, key, engram_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX fields_engram ON fields (engram_rowid);
    CREATE TABLE fields_pending (namespace TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO fields_pending SELECT DISTINCT namespace FROM engrams;
    """,
    # 9: consolidation at scale (docs/consolidation.md, "At scale"). A step reads what it
    # needs by index, never the namespace. ``consolidation_state.consumed_to``: every
    # episode of the namespace at or below this row is consumed at its current
    # version, so pending ones are looked for above it; the triggers lower it when
    # that stops being true (a new version of an episode at or below it, or an
    # episode written there: SQLite reuses the largest rowid after a delete).
    # ``facts.lookup``: a keyed token of the casefolded subject and attribute, so the
    # facts of one subject / attribute are found without opening every fact; NULL
    # for facts written before, filled in by their namespace's next consolidation.
    """
    ALTER TABLE consolidation_state ADD COLUMN consumed_to INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE facts ADD COLUMN lookup TEXT;
    CREATE INDEX facts_lookup ON facts (namespace, lookup);
    CREATE TRIGGER episode_versioned AFTER UPDATE OF version ON engrams
    WHEN NEW.kind = 'episode' BEGIN
        UPDATE consolidation_state SET consumed_to = NEW.rowid - 1
        WHERE namespace = NEW.namespace AND consumed_to >= NEW.rowid;
    END;
    CREATE TRIGGER episode_inserted AFTER INSERT ON engrams
    WHEN NEW.kind = 'episode' BEGIN
        UPDATE consolidation_state SET consumed_to = NEW.rowid - 1
        WHERE namespace = NEW.namespace AND consumed_to >= NEW.rowid;
    END;
    """,
    # 10: recall's analysis of each memory (docs/recall.md, "What a search reads"): the
    # terms and flags of its text and index keys, written with them (sealed like the
    # text in an encrypted namespace), so a search reads them instead of analysing
    # each candidate again. NULL where none was written (memories written before,
    # or by a store opened without an analyser): recall analyses those itself, and
    # ``reindex`` fills them in. A new text or keys written without a new analysis
    # voids the old one (the trigger), so a stale analysis is never read.
    """
    ALTER TABLE engrams ADD COLUMN analysis TEXT;
    CREATE TRIGGER engrams_analysis_stale AFTER UPDATE OF text, keys ON engrams
    WHEN NEW.analysis IS OLD.analysis AND NEW.analysis IS NOT NULL
        AND (NEW.text IS NOT OLD.text OR NEW.keys IS NOT OLD.keys) BEGIN
        UPDATE engrams SET analysis = NULL WHERE rowid = NEW.rowid;
    END;
    """,
    # 11: writes that read nothing of the namespace (docs/dynamics.md, "Storage").
    # ``dynamics.size``: the UTF-8 bytes of the memory's text, written with it (NULL
    # where a sealed text was written before: unknown). ``usage``: each namespace's
    # active (not dormant) memories and their bytes (NULL while an active memory's
    # size is unknown), kept by the triggers in the transaction of every write that
    # adds, changes, puts aside, wakes or deletes a memory, so a budget is checked
    # by one row. ``vectors_model``: the stored vectors' models by two index seeks.
    """
    ALTER TABLE dynamics ADD COLUMN size INTEGER;
    UPDATE dynamics SET size = (
        SELECT length(CAST(e.text AS BLOB)) FROM engrams e WHERE e.rowid = dynamics.engram_rowid
    ) WHERE NOT EXISTS (SELECT 1 FROM crypto);
    CREATE TABLE usage (
        namespace    TEXT    PRIMARY KEY,
        active       INTEGER NOT NULL,
        active_bytes INTEGER
    );
    INSERT INTO usage (namespace, active, active_bytes)
        SELECT e.namespace, SUM(d.dormant = 0),
            CASE WHEN SUM(d.dormant = 0 AND d.size IS NULL) > 0 THEN NULL
                 ELSE SUM(CASE WHEN d.dormant = 0 THEN d.size ELSE 0 END) END
        FROM engrams e JOIN dynamics d ON d.engram_rowid = e.rowid
        GROUP BY e.namespace;
    CREATE TRIGGER usage_added AFTER INSERT ON dynamics BEGIN
        INSERT INTO usage (namespace, active, active_bytes)
            SELECT namespace, NEW.dormant = 0,
                CASE WHEN NEW.dormant = 0 THEN NEW.size ELSE 0 END
            FROM engrams WHERE rowid = NEW.engram_rowid
            ON CONFLICT (namespace) DO UPDATE SET active = active + excluded.active,
                active_bytes = active_bytes + excluded.active_bytes;
    END;
    CREATE TRIGGER usage_changed AFTER UPDATE OF dormant, size ON dynamics
    WHEN NEW.dormant IS NOT OLD.dormant OR NEW.size IS NOT OLD.size BEGIN
        UPDATE usage SET
            active = active + (NEW.dormant = 0) - (OLD.dormant = 0),
            active_bytes = active_bytes
                + CASE WHEN NEW.dormant = 0 THEN NEW.size ELSE 0 END
                - CASE WHEN OLD.dormant = 0 THEN OLD.size ELSE 0 END
        WHERE namespace = (SELECT namespace FROM engrams WHERE rowid = NEW.engram_rowid);
    END;
    CREATE TRIGGER usage_deleted BEFORE DELETE ON engrams BEGIN
        UPDATE usage SET
            active = active - (
                SELECT COUNT(*) FROM dynamics WHERE engram_rowid = OLD.rowid AND dormant = 0
            ),
            active_bytes = active_bytes - COALESCE((
                SELECT CASE WHEN dormant = 0 THEN size ELSE 0 END FROM dynamics
                WHERE engram_rowid = OLD.rowid
            ), 0)
        WHERE namespace = OLD.namespace;
    END;
    CREATE INDEX vectors_model ON vectors (model_id);
    """,
    # 12: the vector change log by namespace (store/sqlite/cache.py, "The saved vector
    # index"). Each entry names the memory's namespace, so catching up one namespace
    # reads its own changes by the index, not every namespace's. A vector deleted with
    # its memory is noted before the memory goes (a cascade runs once its row is gone,
    # too late to read its namespace). ``namespace_state.saved_to``: the log position
    # the namespace's latest saved index covers; ``pruned_to``: its entries up to it may
    # be gone (the save before covered them). Entries written before carry no
    # namespace: they are dropped, and every vector index is rebuilt once (the hnswlib
    # graphs saved before are not read any more either).
    """
    ALTER TABLE vector_changes ADD COLUMN namespace TEXT;
    CREATE INDEX vector_changes_namespace ON vector_changes (namespace, seq);
    ALTER TABLE namespace_state ADD COLUMN saved_to INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE namespace_state ADD COLUMN pruned_to INTEGER NOT NULL DEFAULT 0;
    DROP TRIGGER vectors_inserted;
    DROP TRIGGER vectors_updated;
    DROP TRIGGER vectors_deleted;
    CREATE TRIGGER vectors_inserted AFTER INSERT ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid, namespace) VALUES
            (NEW.engram_rowid, (SELECT namespace FROM engrams WHERE rowid = NEW.engram_rowid));
    END;
    CREATE TRIGGER vectors_updated AFTER UPDATE ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid, namespace) VALUES
            (NEW.engram_rowid, (SELECT namespace FROM engrams WHERE rowid = NEW.engram_rowid));
    END;
    CREATE TRIGGER vectors_deleted AFTER DELETE ON vectors
    WHEN EXISTS (SELECT 1 FROM engrams WHERE rowid = OLD.engram_rowid) BEGIN
        INSERT INTO vector_changes (engram_rowid, namespace) VALUES
            (OLD.engram_rowid, (SELECT namespace FROM engrams WHERE rowid = OLD.engram_rowid));
    END;
    CREATE TRIGGER engrams_vector_deleted BEFORE DELETE ON engrams
    WHEN EXISTS (SELECT 1 FROM vectors WHERE engram_rowid = OLD.rowid) BEGIN
        INSERT INTO vector_changes (engram_rowid, namespace) VALUES (OLD.rowid, OLD.namespace);
    END;
    DELETE FROM vector_changes;
    UPDATE vector_log SET pruned_to =
        COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'), 0);
    """,
    # 13: a checksum per row of ``engrams`` and ``versions`` (store/sqlite/checksums.py,
    # docs/reliability.md "Row checksums"): a digest of every other column as stored,
    # a MAC under the namespace's key in an encrypted store. A migration cannot make an
    # encrypted store's (its keys are not at hand): ``checksums_pending`` holds one row
    # until the first writable open with the keys has written those of the rows
    # written before, and removed it.
    """
    ALTER TABLE engrams ADD COLUMN checksum BLOB;
    ALTER TABLE versions ADD COLUMN checksum BLOB;
    CREATE TABLE checksums_pending (id INTEGER PRIMARY KEY CHECK (id = 1));
    INSERT INTO checksums_pending (id) VALUES (1);
    """,
    # 14: repetition, not duplication (docs/repetition.md, store/sqlite/identities.py). One
    # row per digest a memory holds: its content identity (text, speaker, session, event
    # time) and each idempotency key a write of it carried, a keyed tag of each in an
    # encrypted namespace; ``content`` is the content the row was written with (for a key,
    # the request's: a replay with other content is a conflict). The primary key makes a digest
    # the namespace's once; the rows go with their memory. The content identity's row
    # counts the memory's repetitions and holds the latest. Namespaces written before are
    # listed in ``identities_pending`` and filled by their first add that looks.
    """
    CREATE TABLE identities (
        namespace    TEXT    NOT NULL,
        tag          TEXT    NOT NULL,
        engram_rowid INTEGER NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        content      TEXT    NOT NULL,
        repetitions  INTEGER NOT NULL DEFAULT 0,
        repeated_at  TEXT,
        PRIMARY KEY (namespace, tag)
    ) WITHOUT ROWID;
    CREATE INDEX identities_engram ON identities (engram_rowid);
    CREATE TABLE identities_pending (namespace TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO identities_pending SELECT DISTINCT namespace FROM engrams;
    """,
    # 15: memories written without their vector (docs/write-path.md): one row each until
    # the background embedder writes the vector; ``importance_given`` / ``emotion_given``
    # say whether the caller's value stands or the one derived from the vector replaces
    # the stated one. The rows go with their memory; the rowid orders the catch-up.
    """
    CREATE TABLE vectors_pending (
        engram_rowid     INTEGER PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        importance_given INTEGER NOT NULL,
        emotion_given    INTEGER NOT NULL
    );
    """,
    # 16: a checksum per row of the tables whose rows belong to a memory: its dynamics,
    # its vector, its fact, its links to its sources, consolidation's mark
    # (store/sqlite/checksums.py ``ROW_TABLES``, docs/reliability.md "Row checksums"),
    # filled in at the first writable open as migration 13's are (``row_checksums_pending``
    # holds one row until then). A vector's checksum written is no change of the vector:
    # the change log's trigger watches the other columns only.
    """
    ALTER TABLE dynamics ADD COLUMN checksum BLOB;
    ALTER TABLE vectors ADD COLUMN checksum BLOB;
    ALTER TABLE facts ADD COLUMN checksum BLOB;
    ALTER TABLE provenance ADD COLUMN checksum BLOB;
    ALTER TABLE consolidated ADD COLUMN checksum BLOB;
    CREATE TABLE row_checksums_pending (id INTEGER PRIMARY KEY CHECK (id = 1));
    INSERT INTO row_checksums_pending (id) VALUES (1);
    DROP TRIGGER vectors_updated;
    CREATE TRIGGER vectors_updated AFTER UPDATE OF engram_rowid, model_id, dims, scale, data
    ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid, namespace) VALUES
            (NEW.engram_rowid, (SELECT namespace FROM engrams WHERE rowid = NEW.engram_rowid));
    END;
    """,
    # 17: what a namespace learned (docs/learning.md, store/sqlite/learning.py): feedback on
    # its searches, the searches it was given on, its ranker weights. ``value`` is JSON,
    # sealed on an encrypted namespace; the rows go with the namespace.
    """
    CREATE TABLE learned (
        namespace   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       BLOB NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (namespace, kind, key)
    );
    """,
    # 18: a listing ordered by ingest time (docs/scopes.md, "Listing") reads pages from an
    # index, as one by event time reads ``engrams_occurred``: keyset pagination, no sort
    """
    CREATE INDEX engrams_recorded ON engrams (namespace, recorded_at);
    """,
    # 19: the pinned profile (docs/profile.md, store/sqlite/profile.py): one row per
    # version of an entry, found by ``tag`` (the key, or its keyed token in an encrypted
    # namespace); ``key`` and ``text`` are sealed there. ``valid_to`` is NULL while the
    # version is the pinned one.
    """
    CREATE TABLE profile_entries (
        namespace  TEXT    NOT NULL,
        tag        TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        key        TEXT    NOT NULL,
        text       TEXT    NOT NULL,
        source_id  TEXT,
        valid_from TEXT    NOT NULL,
        valid_to   TEXT,
        PRIMARY KEY (namespace, tag, version)
    ) WITHOUT ROWID;
    """,
    # 20: a checksum per row of what a namespace learned (``learned``), of its pinned profile
    # (``profile_entries``) and of a memory's wait for its vector (``vectors_pending``)
    # (store/sqlite/checksums.py, docs/reliability.md "Row checksums"). The rows written
    # before get theirs at the first writable open, as migration 16's did:
    # ``checksums_pending_tables`` names each table whose rows still wait for theirs.
    """
    ALTER TABLE learned ADD COLUMN checksum BLOB;
    ALTER TABLE profile_entries ADD COLUMN checksum BLOB;
    ALTER TABLE vectors_pending ADD COLUMN checksum BLOB;
    CREATE TABLE checksums_pending_tables (name TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO checksums_pending_tables (name)
        VALUES ('learned'), ('profile_entries'), ('vectors_pending');
    """,
    # 21: a checksum per row of ``budgets`` (a namespace's bounds), under the namespace's
    # cipher, filled in at the first writable open as migration 20's are
    """
    ALTER TABLE budgets ADD COLUMN checksum BLOB;
    INSERT INTO checksums_pending_tables (name) VALUES ('budgets');
    """,
    # 22: expiry (docs/expiry.md): when a memory expires (NULL: never), in ``to_iso``'s
    # form, which the row's checksum covers when it is set; the index finds a namespace's
    # expired memories for a purge (and whether it has any, for a read) among those that
    # expire only. ``expiry_ttl``: a namespace's default time to live, in seconds; the
    # row goes with the namespace.
    """
    ALTER TABLE engrams ADD COLUMN expires_at TEXT;
    CREATE INDEX engrams_expiry ON engrams (namespace, expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE expiry_ttl (
        namespace TEXT PRIMARY KEY,
        ttl_s     REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 23: the facts superseded by a fact, by its id (store/sqlite/validity.py): an erasure
    # finds those the erased facts had superseded without reading the namespace's facts
    """
    CREATE INDEX facts_superseded_by ON facts (namespace, superseded_by)
        WHERE superseded_by IS NOT NULL;
    """,
    # 24: a store whose erasures left facts superseded by a fact that no longer exists
    # (before store.derivation.revalidated) has them reopened at its first writable
    # open (store/sqlite/validity.py ``repair_pending``), which takes this mark
    """
    CREATE TABLE validity_pending (id INTEGER PRIMARY KEY CHECK (id = 1));
    INSERT INTO validity_pending (id) SELECT 1 WHERE EXISTS (SELECT 1 FROM facts);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
