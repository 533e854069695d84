"""The PostgreSQL schema of a PostgresStore as append-only numbered migrations.

A store lives in one PostgreSQL schema (``PostgresStore(..., schema=...)``),
so several stores share a database without seeing each other. Each migration
runs once, in the transaction that records its number in ``schema_version``,
under an advisory lock on the schema's name, so that processes starting at
once apply it once. Never edit a released migration: add the next one.
Statements name tables unqualified: the store's connections set
``search_path`` to the store's schema, then ``public`` (where pgvector's types
live).

The layout follows the SQLite store's (``store/sqlite/schema.py``) where the two
databases agree, and says where it differs:

- a memory's dynamic state lives in its ``engrams`` row (SQLite: a
  ``dynamics`` table), so a read of a memory is one row;
- the vector is a ``halfvec`` column beside the row (SQLite: int8 codes and a
  scale in ``vectors``): pgvector's HNSW indexes ``halfvec`` with cosine
  distance at half the size of ``vector``, and float16 keeps a unit vector to
  about 1e-3 per component, finer than the SQLite store's int8 codes
  (docs/postgres.md, "What is stored how");
- the lexical index is ``terms``, the memory's words as the SQLite store's FTS5
  tokenizer makes them (``store.postgres.lexical``), a ``text[]`` under a GIN
  index (SQLite: the FTS5 table ``engram_fts``);
- ``{dims}`` in a migration is the dimensions the store is created with,
  recorded in ``store_info``;
- ``seq`` numbers a memory in its session as in SQLite; ``rowid`` is a
  ``bigint`` identity, the insertion order.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: tuple[str, ...] = (
    # 1: the store's dimensions; memories with their dynamics, versions, vectors and
    # lexical terms; consolidation's facts, provenance and consumed marks; budgets
    # (docs/postgres.md)
    """
    CREATE TABLE store_info (
        id   integer PRIMARY KEY CHECK (id = 1),
        dims integer NOT NULL
    );
    INSERT INTO store_info (id, dims) VALUES (1, {dims});

    CREATE TABLE engrams (
        rowid            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id               text             NOT NULL UNIQUE,
        namespace        text             NOT NULL,
        kind             text             NOT NULL,
        session          text,
        seq              bigint           NOT NULL,
        speaker          text,
        text             text             NOT NULL,
        keys             text             NOT NULL DEFAULT '',
        metadata         text             NOT NULL,
        occurred_at      timestamptz      NOT NULL,
        recorded_at      timestamptz      NOT NULL,
        valid_from       timestamptz      NOT NULL,
        version          integer          NOT NULL,
        model_id         text             NOT NULL,
        embedding        halfvec({dims})   NOT NULL,
        terms            text[]           NOT NULL,
        stability_days   double precision NOT NULL,
        importance       double precision NOT NULL,
        valence          double precision NOT NULL DEFAULT 0,
        arousal          double precision NOT NULL DEFAULT 0,
        emotion          text             NOT NULL DEFAULT 'neutral',
        recalls          integer          NOT NULL DEFAULT 0,
        last_recalled_at timestamptz,
        dormant          boolean          NOT NULL DEFAULT false,
        consumed         integer
    );
    CREATE INDEX engrams_namespace ON engrams (namespace, rowid);
    CREATE INDEX engrams_session ON engrams (namespace, session, seq);
    CREATE INDEX engrams_occurred ON engrams (namespace, occurred_at);
    CREATE INDEX engrams_terms ON engrams USING gin (terms);
    -- dense candidates above ann_threshold (exact below it: docs/postgres.md)
    CREATE INDEX engrams_embedding ON engrams USING hnsw (embedding halfvec_cosine_ops)
        WITH (m = 16, ef_construction = 64);

    CREATE TABLE versions (
        engram_rowid bigint      NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        version      integer     NOT NULL,
        text         text        NOT NULL,
        speaker      text,
        metadata     text        NOT NULL,
        occurred_at  timestamptz NOT NULL,
        valid_from   timestamptz NOT NULL,
        valid_to     timestamptz,
        PRIMARY KEY (engram_rowid, version)
    );

    CREATE TABLE facts (
        engram_rowid   bigint      PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        namespace      text        NOT NULL,
        subject        text        NOT NULL,
        attribute      text        NOT NULL,
        value          text        NOT NULL,
        valid_from     timestamptz NOT NULL,
        valid_to       timestamptz,
        recorded_at    timestamptz NOT NULL,
        invalidated_at timestamptz,
        status         text        NOT NULL CHECK (status IN ('current', 'superseded', 'stale')),
        superseded_by  text,
        lookup         text        NOT NULL
    );
    CREATE INDEX facts_lookup ON facts (namespace, lookup);

    CREATE TABLE provenance (
        derived_rowid bigint NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        source_rowid  bigint NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        relation      text   NOT NULL,
        PRIMARY KEY (derived_rowid, source_rowid)
    );
    CREATE INDEX provenance_source ON provenance (source_rowid);

    CREATE TABLE budgets (
        namespace    text PRIMARY KEY,
        max_memories bigint,
        max_bytes    bigint
    );
    """,
    # 2: repetition (docs/repetition.md): the digests each memory holds, its content
    # identity and idempotency keys (store.postgres.identities); the namespaces written
    # before are filled from their rows by their first add that looks
    """
    CREATE TABLE identities (
        namespace    text    NOT NULL,
        tag          text    NOT NULL,
        engram_rowid bigint  NOT NULL REFERENCES engrams (rowid) ON DELETE CASCADE,
        content      text    NOT NULL,
        repetitions  integer NOT NULL DEFAULT 0,
        repeated_at  timestamptz,
        PRIMARY KEY (namespace, tag)
    );
    CREATE INDEX identities_engram ON identities (engram_rowid);
    CREATE TABLE identities_pending (namespace text PRIMARY KEY);
    INSERT INTO identities_pending (namespace) SELECT DISTINCT namespace FROM engrams;
    """,
    # 3: a change mark per namespace (docs/scaling.md): statement triggers on engrams
    # give every namespace a write touches a new value of one sequence, so a process
    # that cached a namespace knows at its next read that it moved
    # (store.postgres.changes). Rows are only inserted and deleted, never updated,
    # and the delete skips rows another writer holds: writers wait on no one here.
    # Written to run again over itself (a store rolled back to an earlier version).
    """
    CREATE SEQUENCE IF NOT EXISTS namespace_change;
    CREATE TABLE IF NOT EXISTS namespace_changes (
        namespace text   NOT NULL,
        changes   bigint NOT NULL,
        PRIMARY KEY (namespace, changes)
    );
    CREATE OR REPLACE FUNCTION namespaces_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        DELETE FROM namespace_changes WHERE ctid IN (
            SELECT c.ctid FROM namespace_changes c
            WHERE c.namespace IN (SELECT namespace FROM changed)
            FOR UPDATE SKIP LOCKED);
        INSERT INTO namespace_changes (namespace, changes)
            SELECT namespace, nextval('namespace_change')
            FROM (SELECT DISTINCT namespace FROM changed) AS touched;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE TRIGGER engrams_inserted AFTER INSERT ON engrams
        REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION namespaces_changed();
    CREATE OR REPLACE TRIGGER engrams_updated AFTER UPDATE ON engrams
        REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION namespaces_changed();
    CREATE OR REPLACE TRIGGER engrams_deleted AFTER DELETE ON engrams
        REFERENCING OLD TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION namespaces_changed();
    """,
    # 4: what a namespace learned (docs/learning.md): feedback on its searches, the
    # searches it was given on, its ranker weights, each a JSON value; the rows go with
    # the namespace (SQLite: migration 17)
    """
    CREATE TABLE learned (
        namespace   text        NOT NULL,
        kind        text        NOT NULL,
        key         text        NOT NULL,
        value       text        NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (namespace, kind, key)
    );
    """,
    # 5: a listing (docs/scopes.md, "Listing") reads its pages from an index in its order,
    # event time or ingest time, each tie broken by the rowid (store.postgres.listing)
    """
    CREATE INDEX IF NOT EXISTS engrams_occurred_rowid ON engrams (namespace, occurred_at, rowid);
    CREATE INDEX IF NOT EXISTS engrams_recorded_rowid ON engrams (namespace, recorded_at, rowid);
    """,
    # 6: the pinned profile (docs/profile.md, store.postgres.profile): one row per version
    # of an entry; ``valid_to`` is NULL while the version is the pinned one
    """
    CREATE TABLE profile_entries (
        namespace  text        NOT NULL,
        key        text        NOT NULL,
        version    integer     NOT NULL,
        text       text        NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_to   timestamptz,
        source_id  text,
        PRIMARY KEY (namespace, key, version)
    );
    """,
    # 7: the change mark moves once per namespace and transaction, not once per statement
    # (store.postgres.changes): a batch written one INSERT a memory moved it once a row.
    # Each value records the transaction that took it (xid8); a later statement of the
    # same transaction finds its own value and writes nothing. The value is new to every
    # reader still, since none sees it before the commit.
    """
    ALTER TABLE namespace_changes ADD COLUMN IF NOT EXISTS xact xid8;
    CREATE OR REPLACE FUNCTION namespaces_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    DECLARE
        mine  xid8 := pg_current_xact_id();
        fresh text[];
    BEGIN
        SELECT array_agg(DISTINCT t.namespace) INTO fresh FROM changed t
        WHERE NOT EXISTS (SELECT 1 FROM namespace_changes c
                          WHERE c.namespace = t.namespace AND c.xact = mine);
        IF fresh IS NULL THEN
            RETURN NULL;
        END IF;
        DELETE FROM namespace_changes WHERE ctid IN (
            SELECT c.ctid FROM namespace_changes c
            WHERE c.namespace = ANY (fresh)
            FOR UPDATE SKIP LOCKED);
        INSERT INTO namespace_changes (namespace, changes, xact)
            SELECT touched, nextval('namespace_change'), mine FROM unnest(fresh) AS touched;
        RETURN NULL;
    END $$;
    """,
    # 8: memories written without their vector (docs/write-path.md,
    # store.postgres.pending): their embedding is NULL until it comes, and a row here
    # says whether the caller gave the importance and emotion (they stand) or they are
    # derived from the vector when it arrives (SQLite: migration 15). HNSW leaves NULLs
    # out of the graph; an exact scan skips them.
    """
    ALTER TABLE engrams ALTER COLUMN embedding DROP NOT NULL;
    CREATE TABLE vectors_pending (
        engram_rowid     bigint  PRIMARY KEY REFERENCES engrams (rowid) ON DELETE CASCADE,
        importance_given boolean NOT NULL,
        emotion_given    boolean NOT NULL
    );
    """,
    # 9: encryption at rest (docs/security.md, docs/postgres.md): ``crypto`` holds the
    # store's one encryption record (key-derivation parameters, the verifier the master
    # key opens, whether vectors are sealed), ``namespace_keys`` each namespace's data
    # key wrapped by the master key (security.datakeys). A sealed vector is kept in
    # ``sealed_vector`` and never in ``embedding``, which pgvector reads (both are NULL
    # while it is pending); a pinned profile entry's key is a keyed tag in ``key`` and
    # sealed in ``sealed_key``
    """
    CREATE TABLE crypto (
        id             integer     PRIMARY KEY CHECK (id = 1),
        scheme         text        NOT NULL,
        params         text        NOT NULL,
        verifier       bytea       NOT NULL,
        vectors_sealed boolean     NOT NULL,
        created_at     timestamptz NOT NULL,
        rotated_at     timestamptz
    );
    CREATE TABLE namespace_keys (
        namespace  text        PRIMARY KEY,
        key_id     bytea       NOT NULL,
        wrapped    bytea       NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE engrams ADD COLUMN sealed_vector bytea;
    ALTER TABLE engrams ADD CONSTRAINT engrams_one_vector
        CHECK (embedding IS NULL OR sealed_vector IS NULL);
    ALTER TABLE profile_entries ADD COLUMN sealed_key text;
    """,
    # 10: expiry (docs/expiry.md, store.postgres.expiring): when a memory expires (NULL:
    # never), its index over the memories that expire (what a purge reads, and whether
    # a namespace has any expired, for a read), and a namespace's default time to live
    # (SQLite: migration 22)
    """
    ALTER TABLE engrams ADD COLUMN IF NOT EXISTS expires_at timestamptz;
    CREATE INDEX IF NOT EXISTS engrams_expiry ON engrams (namespace, expires_at)
        WHERE expires_at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS expiry_ttl (
        namespace text             PRIMARY KEY,
        ttl_s     double precision NOT NULL
    );
    """,
    # 11: the catch-up of pending vectors split between processes (docs/scaling.md,
    # store.postgres.pending): a process's background embedder claims a round of
    # pending memories until ``claimed_until``; others skip them while the claim
    # holds and take them once it has run out (its claimer died mid-round)
    """
    ALTER TABLE vectors_pending ADD COLUMN claimed_until timestamptz;
    """,
    # 12: the MAC of each memory's row and each version's in an encrypted store, over
    # their clear columns
    # (docs/security.md, store.postgres.macs; SQLite: the row checksums). An encrypted
    # store's rows written before get theirs at its first open with the key, which
    # takes the mark ``macs_pending`` leaves
    """
    ALTER TABLE engrams ADD COLUMN IF NOT EXISTS mac bytea;
    ALTER TABLE versions ADD COLUMN IF NOT EXISTS mac bytea;
    CREATE TABLE IF NOT EXISTS macs_pending (id integer PRIMARY KEY CHECK (id = 1));
    INSERT INTO macs_pending (id) SELECT 1 WHERE EXISTS (SELECT 1 FROM crypto)
        ON CONFLICT DO NOTHING;
    """,
    # 13: the facts superseded by a fact, by its id (store.postgres.validity): an erasure
    # finds those the erased facts had superseded without reading the namespace's facts
    """
    CREATE INDEX IF NOT EXISTS facts_superseded_by ON facts (namespace, superseded_by)
        WHERE superseded_by IS NOT NULL;
    """,
    # 14: the MAC of each fact's row and each provenance link's in an encrypted store,
    # over every column (docs/security.md, store.postgres.macs ``OWNED``; SQLite: the row
    # checksums of the same tables). An encrypted store's rows written before get theirs
    # at its first open with the key: ``macs_pending_tables`` names the tables that wait
    """
    ALTER TABLE facts ADD COLUMN IF NOT EXISTS mac bytea;
    ALTER TABLE provenance ADD COLUMN IF NOT EXISTS mac bytea;
    CREATE TABLE IF NOT EXISTS macs_pending_tables (name text PRIMARY KEY);
    INSERT INTO macs_pending_tables (name)
        SELECT t FROM unnest(ARRAY['facts', 'provenance']) AS t
        WHERE EXISTS (SELECT 1 FROM crypto)
        ON CONFLICT DO NOTHING;
    """,
    # 15: a store whose erasures left facts superseded by a fact that no longer exists
    # (before store.derivation.revalidated) has them reopened at its first writable
    # open (store.postgres.validity ``repair_pending``), which takes this mark
    """
    CREATE TABLE IF NOT EXISTS validity_pending (id integer PRIMARY KEY CHECK (id = 1));
    INSERT INTO validity_pending (id) SELECT 1 WHERE EXISTS (SELECT 1 FROM facts)
        ON CONFLICT DO NOTHING;
    """,
    # 16: the MAC of each version of a pinned profile entry in an encrypted store, over
    # every column (docs/security.md, store.postgres.macs ``PROFILE``; SQLite: the row
    # checksums of ``profile_entries``), the rows written before filled in as
    # migration 14's
    """
    ALTER TABLE profile_entries ADD COLUMN IF NOT EXISTS mac bytea;
    INSERT INTO macs_pending_tables (name) SELECT 'profile_entries'
        WHERE EXISTS (SELECT 1 FROM crypto)
        ON CONFLICT DO NOTHING;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
