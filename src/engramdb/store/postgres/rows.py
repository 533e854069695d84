"""The rows of a PostgresStore: memories, versions, facts and links, as SQL.

Every function runs inside the caller's transaction (``Database.write`` or
``read``) and takes its connection; what is written when, and in what order,
is ``store.postgres.store``'s. A memory's stored form is the SQLite store's
where PostgreSQL has no better type: metadata as canonical JSON text
(``store.codec.dump``, so it reads back exactly as written), times as
``timestamptz`` (microseconds, UTC), its vector a ``halfvec``.

In an encrypted store (docs/security.md) each function is given the cipher of
each namespace (``CipherOf``: ``store.postgres.sealed.Armoured``, or the
identity in a plaintext store) and seals what it writes, opens what it reads,
under the associated data the SQLite store uses (``engrams.text:<id>``,
``versions.text:<id>:<version>``, ...); a sealed vector goes to
``sealed_vector``, never to ``embedding``; the lexical terms are blind tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector import HalfVector

from engramdb.errors import NotFoundError, StoreError
from engramdb.model import Engram, Fact, Version
from engramdb.security.crypto import Cipher
from engramdb.store.base import (
    Catalog,
    DerivedUpdate,
    Dynamics,
    DynamicState,
    EngramRecord,
    Link,
    VersionRecord,
)
from engramdb.store.codec import (
    dump,
    open_emotion,
    open_optional,
    seal_emotion,
    seal_optional,
    sealed_fact,
    sealed_version,
)
from engramdb.store.derivation import consolidated_again, taken_along_all
from engramdb.store.postgres import macs, validity
from engramdb.store.postgres.database import Connection
from engramdb.store.postgres.lexical import terms_for
from engramdb.store.postgres.sealed import open_vector, seal_vector

__all__ = [
    "ENGRAM_COLUMNS",
    "CipherOf",
    "all_of",
    "catalog",
    "delete",
    "doomed",
    "engram",
    "fact_key",
    "facts",
    "insert",
    "insert_facts",
    "insert_links",
    "insert_version",
    "locate",
    "new_version",
    "rowids_of",
    "vector_of",
    "with_derived",
]

ENGRAM_COLUMNS = (
    "rowid, id, namespace, kind, session, speaker, text, metadata, occurred_at, "
    "recorded_at, valid_from, version, stability_days, importance, valence, arousal, "
    "emotion, recalls, last_recalled_at, dormant, expires_at, seq, keys, mac"
)
_INSERT = (
    "INSERT INTO engrams (id, namespace, kind, session, seq, speaker, text, keys, metadata, "
    "occurred_at, recorded_at, valid_from, version, model_id, embedding, sealed_vector, terms, "
    "stability_days, importance, valence, arousal, emotion, expires_at) "
    "SELECT id, namespace, kind, session, seq, speaker, text, keys, metadata, occurred_at, "
    "recorded_at, valid_from, version, model_id, embedding, sealed_vector, "
    # an array of arrays is one array to unnest: each row's terms travel joined
    "string_to_array(terms, E'\\x1f'), stability_days, importance, valence, arousal, emotion, "
    "expires_at FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], "
    "%b::text[], %b::text[], %b::text[], %b::text[], %s::timestamptz[], %s::timestamptz[], "
    "%s::timestamptz[], %b::integer[], %b::text[], %b::halfvec[], %b::bytea[], %b::text[], "
    "%b::double precision[], %b::double precision[], %b::double precision[], "
    "%b::double precision[], %b::text[], %s::timestamptz[]) "
    "AS given (id, namespace, kind, session, seq, speaker, text, keys, metadata, occurred_at, "
    "recorded_at, valid_from, version, model_id, embedding, sealed_vector, terms, "
    "stability_days, importance, valence, arousal, emotion, expires_at) "
    "RETURNING id, rowid"
)
_INSERT_VERSION = (
    "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, occurred_at, "
    "valid_from, valid_to) SELECT * FROM unnest(%b::bigint[], %b::integer[], %b::text[], "
    "%b::text[], %b::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])"
)
_CATALOG = (
    "SELECT id, kind, session, seq, speaker, occurred_at, text, keys, embedding, sealed_vector, "
    "stability_days, importance, valence, arousal, emotion, recalls, last_recalled_at, dormant "
    "FROM engrams"
)


#: The cipher of each namespace a statement touches (``DataKeys.ciphers``).
CipherOf = Callable[[str], Cipher]


def vector_of(vector: npt.NDArray[np.float32]) -> HalfVector:
    """A vector as stored: float16 (docs/postgres.md, "What is stored how")."""
    return HalfVector(np.asarray(vector, dtype=np.float32))


def stored_vector(
    cipher: Cipher, engram_id: str, vector: npt.NDArray[np.float32] | None, sealed: bool
) -> tuple[HalfVector | None, bytes | None]:
    """(embedding, sealed_vector) of a memory: the one pgvector reads, or the sealed one;
    neither while its vector is pending (None)."""
    if vector is None:
        return None, None
    if sealed and cipher.encrypted:
        return None, seal_vector(cipher, engram_id, vector)
    return vector_of(vector), None


def read_vector(
    cipher: Cipher, engram_id: str, embedding: HalfVector | None, sealed: bytes | None, dims: int
) -> npt.NDArray[np.float32]:
    """A memory's vector as stored (zeros while it is pending)."""
    if embedding is not None:
        return np.asarray(embedding.to_numpy(), dtype=np.float32)
    if sealed is None:  # pending
        return np.zeros(dims, dtype=np.float32)
    return open_vector(cipher, engram_id, sealed)


def engram(row: Sequence[Any], cipher_of: CipherOf) -> Engram:
    """The memory of a row of ``ENGRAM_COLUMNS``; ``DecryptionError`` when an encrypted
    namespace's row does not match its MAC (``macs``)."""
    (rowid, eid, namespace, kind, session, speaker, text, metadata, occurred_at, recorded_at,
     valid_from, version, stability, importance, valence, arousal, emotion, recalls,
     last_recalled_at, dormant, expires_at, seq, keys, mac) = row  # fmt: skip
    cipher = cipher_of(namespace)
    if cipher.encrypted:
        covered = (rowid, eid, namespace, kind, session, seq, speaker, text, keys, metadata,
                   occurred_at, recorded_at, valid_from, version, expires_at)  # fmt: skip
        macs.verify_row(cipher, covered, mac)
    valence, arousal, emotion = open_emotion(cipher, eid, float(valence), float(arousal), emotion)
    return Engram(
        id=eid,
        namespace=namespace,
        text=cipher.open(text, f"engrams.text:{eid}"),
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        valid_from=valid_from,
        session=session,
        speaker=open_optional(cipher, speaker, f"engrams.speaker:{eid}"),
        metadata=json.loads(cipher.open(metadata, f"engrams.metadata:{eid}")),
        kind=kind,
        version=int(version),
        stability_days=float(stability),
        importance=float(importance),
        valence=float(valence),
        arousal=float(arousal),
        emotion=emotion,
        recalls=int(recalls),
        last_recalled_at=last_recalled_at,
        dormant=bool(dormant),
        expires_at=expires_at,
    )


def locate(conn: Connection, namespace: str, engram_id: str) -> tuple[int, int]:
    """The row and current version of a memory, locked for this transaction;
    ``NotFoundError`` when the namespace has no such id."""
    row = conn.execute(
        "SELECT rowid, version FROM engrams WHERE namespace = %s AND id = %s FOR UPDATE",
        (namespace, engram_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
    return int(row[0]), int(row[1])


def rowids_of(conn: Connection, namespace: str, ids: Iterable[str]) -> dict[str, int]:
    """Id -> row of the ``ids`` that exist in the namespace."""
    found = conn.execute(
        "SELECT id, rowid FROM engrams WHERE id = ANY(%s) AND namespace = %s",
        (list(ids), namespace),
    )
    return {str(engram_id): int(rowid) for engram_id, rowid in found}


def _last_seqs(
    conn: Connection, sessions: Iterable[tuple[str, str | None]]
) -> dict[tuple[str, str | None], int]:
    """The last ``seq`` of each (namespace, session), 0 for a new one: one statement a
    namespace for its named sessions, each answered from the session index."""
    named: dict[str, list[str]] = {}
    last: dict[tuple[str, str | None], int] = {}
    for namespace, session in sessions:
        if session is None:
            row = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM engrams "
                "WHERE namespace = %s AND session IS NULL",
                (namespace,),
            ).fetchone()
            last[(namespace, None)] = int(row[0]) if row else 0
        else:
            named.setdefault(namespace, []).append(session)
    for namespace, names in named.items():
        found = conn.execute(
            "SELECT s.session, (SELECT coalesce(max(e.seq), 0) FROM engrams e "
            "WHERE e.namespace = %s AND e.session = s.session) "
            "FROM unnest(%s::text[]) AS s (session)",
            (namespace, names),
        )
        last.update({(namespace, str(session)): int(seq) for session, seq in found})
    return last


def insert(
    conn: Connection,
    records: Sequence[EngramRecord],
    versions: Sequence[VersionRecord],
    cipher_of: CipherOf,
    *,
    seal_vectors: bool,
) -> list[int]:
    """Write each record as a memory whose current version is the one of ``versions``
    beside it (its number and start); their rows, in order. Each memory is numbered
    after the last of its session (``seq``). A record without its vector
    (``EngramRecord.pending``) is written with none and joins ``vectors_pending``."""
    last = _last_seqs(conn, dict.fromkeys((r.namespace, r.session) for r in records))
    params = []
    for record, current in zip(records, versions, strict=True):
        key = (record.namespace, record.session)
        last[key] += 1
        c, eid = cipher_of(record.namespace), record.id
        valence, arousal, emotion = seal_emotion(
            c, eid, record.valence, record.arousal, record.emotion
        )
        params.append(
            (
                eid,
                record.namespace,
                record.kind,
                record.session,
                last[key],
                seal_optional(c, record.speaker, f"engrams.speaker:{eid}"),
                c.seal(record.text, f"engrams.text:{eid}"),
                c.seal(record.keys, f"engrams.keys:{eid}"),
                c.seal(dump(record.metadata), f"engrams.metadata:{eid}"),
                record.occurred_at,
                record.recorded_at,
                current.valid_from,
                int(current.version),
                record.model_id,
                *stored_vector(c, eid, None if record.pending else record.vector, seal_vectors),
                terms_for(c, record.text, record.keys),
                # one type a column: an array is of one type (1 beside 0.5 is refused)
                float(record.stability_days),
                float(record.importance),
                float(valence),
                float(arousal),
                emotion,
                record.expires_at,
            )
        )
    # one statement: its rows in order, each returned with its id
    columns = [list(column) for column in zip(*params, strict=True)]
    columns[16] = ["\x1f".join(terms) for terms in columns[16]]
    made = {str(eid): int(rowid) for eid, rowid in conn.execute(_INSERT, columns)}
    if len(made) != len(records):
        raise StoreError("an insert returned fewer rows than it was given")
    rowids = [made[r.id] for r in records]
    if any(cipher_of(namespace).encrypted for namespace in {r.namespace for r in records}):
        macs.seal(conn, cipher_of, rowids)
    waiting = [
        (rowid, r.importance_given, r.emotion_given)
        for rowid, r in zip(rowids, records, strict=True)
        if r.pending
    ]
    if waiting:  # their vectors follow (docs/write-path.md, store.postgres.pending)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO vectors_pending (engram_rowid, importance_given, emotion_given) "
                "VALUES (%s, %s, %s)",
                waiting,
            )
    return rowids


def insert_version(
    conn: Connection,
    items: Iterable[tuple[int, EngramRecord | str, VersionRecord]],
    cipher: CipherOf,
    namespace: str = "",
) -> None:
    """Write versions of memories: (row, memory, version), the memory as its record or,
    with ``namespace``, its id."""
    params = []
    namespaces: set[str] = set()
    for rowid, record, v in items:
        if isinstance(record, str):
            eid, c = record, cipher(namespace)
            namespaces.add(namespace)
        else:
            eid, c = record.id, cipher(record.namespace)
            namespaces.add(record.namespace)
        params.append(
            (
                int(rowid),
                int(v.version),
                *sealed_version(c, eid, v.version, v.text, v.speaker, dump(v.metadata)),
                v.occurred_at,
                v.valid_from,
                v.valid_to,
            )
        )
    if params:
        conn.execute(_INSERT_VERSION, [list(column) for column in zip(*params, strict=True)])
        if any(cipher(ns).encrypted for ns in namespaces):
            macs.seal_versions(conn, cipher, sorted({p[0] for p in params}))


def new_version(
    conn: Connection,
    rowid: int,
    change: DerivedUpdate,
    *,
    speaker: str | None,
    version: int,
    at: datetime,
    namespace: str,
    cipher_of: CipherOf,
    seal_vectors: bool,
) -> None:
    """Close the memory's current version at ``at`` and write ``change`` as its current
    one, numbered ``version``: row, history, vector and terms. A memory whose vector was
    pending is no longer: the new version's is written."""
    macs.verify(conn, cipher_of, [rowid])  # never reseal an altered row
    conn.execute(
        "UPDATE versions SET valid_to = %s WHERE engram_rowid = %s AND valid_to IS NULL",
        (at, rowid),
    )
    insert_version(
        conn,
        [
            (
                rowid,
                change.engram_id,
                VersionRecord(
                    version, change.text, speaker, change.metadata, change.occurred_at, at, None
                ),
            )
        ],
        cipher_of,
        namespace,
    )
    c, eid = cipher_of(namespace), change.engram_id
    conn.execute(
        "UPDATE engrams SET text = %s, speaker = %s, metadata = %s, occurred_at = %s, "
        "keys = %s, valid_from = %s, version = %s, model_id = %s, embedding = %s, "
        "sealed_vector = %s, terms = %s WHERE rowid = %s",
        (
            c.seal(change.text, f"engrams.text:{eid}"),
            seal_optional(c, speaker, f"engrams.speaker:{eid}"),
            c.seal(dump(change.metadata), f"engrams.metadata:{eid}"),
            change.occurred_at,
            c.seal(change.keys, f"engrams.keys:{eid}"),
            at,
            version,
            change.model_id,
            *stored_vector(c, eid, change.vector, seal_vectors),
            terms_for(c, change.text, change.keys),
            rowid,
        ),
    )
    conn.execute("DELETE FROM vectors_pending WHERE engram_rowid = %s", (rowid,))
    macs.seal(conn, cipher_of, [rowid])


def delete(
    conn: Connection, named: Sequence[int], doomed: Sequence[int], cipher_of: CipherOf
) -> None:
    """Delete the memories ``named`` and what a delete of them takes along (``doomed``,
    from ``with_derived``: ``named`` first); versions, facts and links go with them (ON
    DELETE CASCADE). The remaining episode sources of what went along are pending
    again (``store.derivation.consolidated_again``)."""
    again = consolidated_again(named, doomed, lambda keys: _episodes_under(conn, keys))
    validity.after_erasure(conn, doomed, cipher_of)  # what the erased facts had closed
    conn.execute("DELETE FROM engrams WHERE rowid = ANY(%s)", (list(doomed),))
    if again:
        conn.execute("UPDATE engrams SET consumed = NULL WHERE rowid = ANY(%s)", (sorted(again),))


def with_derived(conn: Connection, rowids: Sequence[int]) -> list[int]:
    """``rowids`` and the derived memories a delete of them takes along
    (``taken_along_all`` over ``provenance``; docs/security.md)."""

    def derived_from(sources: Sequence[int]) -> list[int]:
        found = conn.execute(
            "SELECT DISTINCT p.derived_rowid FROM provenance p "
            "JOIN engrams d ON d.rowid = p.derived_rowid "
            "WHERE p.source_rowid = ANY(%s) AND d.kind <> 'episode'",
            (list(sources),),
        )
        return [int(r) for (r,) in found]

    return taken_along_all(rowids, derived_from)


def _episodes_under(conn: Connection, rowids: Sequence[int]) -> set[int]:
    """The episodes that are sources of the derived memories among ``rowids``."""
    found = conn.execute(
        "SELECT DISTINCT p.source_rowid FROM provenance p "
        "JOIN engrams d ON d.rowid = p.derived_rowid "
        "JOIN engrams s ON s.rowid = p.source_rowid "
        "WHERE p.derived_rowid = ANY(%s) AND d.kind <> 'episode' AND s.kind = 'episode'",
        (list(rowids),),
    )
    return {int(r) for (r,) in found}


def doomed(
    conn: Connection, namespace: str, ids: Sequence[str], *, lock: bool
) -> tuple[list[int], list[tuple[int, str]]]:
    """The rows of the ``ids`` that exist in the namespace, in their order; and the rows
    and ids of those, then of the derived memories a delete of them takes along: what
    ``delete_many`` removes. ``lock`` locks the memories named for this transaction."""
    wanted = list(dict.fromkeys(ids))
    suffix = " ORDER BY rowid FOR UPDATE" if lock else ""
    found: dict[str, int] = dict(
        conn.execute(
            f"SELECT id, rowid FROM engrams WHERE id = ANY(%s) AND namespace = %s{suffix}",
            (wanted, namespace),
        ).fetchall()
    )
    named = [int(found[i]) for i in wanted if i in found]
    rowids = with_derived(conn, named)
    id_of: dict[int, str] = dict(
        conn.execute("SELECT rowid, id FROM engrams WHERE rowid = ANY(%s)", (rowids,)).fetchall()
    )
    return named, [(r, str(id_of[r])) for r in rowids]


def all_of(conn: Connection, namespace: str, named: set[str], refusal: str) -> dict[str, int]:
    """The rows of every id ``named``; ``StoreError`` (``refusal``) when one is missing."""
    found = rowids_of(conn, namespace, named)
    missing = named - found.keys()
    if missing:
        raise StoreError(f"{refusal} {namespace!r}: {sorted(missing)[:3]}")
    return found


# -- catalog ------------------------------------------------------------------


def catalog(
    conn: Connection, where: str, params: Sequence[Any], dims: int, cipher: Cipher
) -> Catalog:
    """The catalog of the memories ``where`` selects (a SQL condition on ``engrams`` that
    names one namespace, whose cipher ``cipher`` is), in insertion order; sessions
    coded in order of first appearance."""
    # binary: a vector arrives as its float16 bytes, not as text parsed a number at a
    # time (most of the time of a pool's read otherwise)
    query = f"{_CATALOG} WHERE {where} ORDER BY rowid"
    found = conn.execute(query, params, binary=True).fetchall()
    codes: dict[str, int] = {}
    ids, kinds, sessions, seqs, speakers, occurred, texts, documents = ([] for _ in range(8))
    states = []
    vectors = np.zeros((len(found), dims), dtype=np.float32)
    for i, row in enumerate(found):
        (eid, kind, session, seq, speaker, occurred_at, text, keys, embedding, sealed, stability,
         importance, valence, arousal, emotion, recalls, last_recalled, dormant) = row  # fmt: skip
        speaker = open_optional(cipher, speaker, f"engrams.speaker:{eid}")
        text = cipher.open(text, f"engrams.text:{eid}")
        keys = cipher.open(keys, f"engrams.keys:{eid}")
        valence, arousal, emotion = open_emotion(
            cipher, eid, float(valence), float(arousal), emotion
        )
        ids.append(eid)
        kinds.append(kind)
        sessions.append(-1 if session is None else codes.setdefault(session, len(codes)))
        seqs.append(int(seq))
        speakers.append(speaker)
        occurred.append(occurred_at.timestamp())
        texts.append(text)
        documents.append(f"{text} {keys}".strip())
        vectors[i] = read_vector(cipher, eid, embedding, sealed, dims)
        states.append(
            DynamicState(
                float(stability), float(importance), float(valence), float(arousal), emotion,
                int(recalls), last_recalled, bool(dormant),
            )
        )  # fmt: skip
    return Catalog(
        ids=tuple(ids),
        documents=tuple(documents),
        session=np.array(sessions, dtype=np.int64),
        seq=np.array(seqs, dtype=np.int64),
        speakers=tuple(speakers),
        occurred_at=np.array(occurred, dtype=np.float64),
        vectors=vectors,
        kinds=tuple(kinds),
        dynamics=Dynamics.of(states, occurred, texts),
    )


# -- consolidation ------------------------------------------------------------


def fact_key(subject: str, attribute: str) -> str:
    """What facts of one subject / attribute share: both casefolded and stripped. Stored
    in ``facts.lookup`` (its keyed tag when sealed), so the U+001F between them stays: the
    SQLite store's NUL cannot be held by PostgreSQL's text."""
    return f"{subject.casefold().strip()}\x1f{attribute.casefold().strip()}"


def insert_facts(
    conn: Connection, rowids: Mapping[str, int], found: Iterable[Fact], cipher: Cipher
) -> None:
    """Write facts of one namespace; their lookup is a keyed tag when sealed, and each
    row carries its MAC (``macs.FACTS``: every column as written) when sealed."""
    params = [
        (
            rowids[f.engram_id], f.namespace,
            *sealed_fact(cipher, f.engram_id, f.subject, f.attribute, f.value), f.valid_from,
            f.valid_to, f.recorded_at, f.invalidated_at, f.status, f.superseded_by,
            cipher.tag(fact_key(f.subject, f.attribute)),
        )
        for f in found
    ]  # fmt: skip
    if params:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO facts (engram_rowid, namespace, subject, attribute, value, "
                "valid_from, valid_to, recorded_at, invalidated_at, status, superseded_by, "
                "lookup, mac) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*p, macs.of_owned(cipher, macs.FACTS, p)) for p in params],
            )


def insert_links(
    conn: Connection, rowids: Mapping[str, int], found: Iterable[Link], cipher: Cipher
) -> None:
    """Write links of one namespace (whose cipher ``cipher`` is), each with its MAC when
    sealed (``macs.LINKS``); a link already there is left as it is."""
    params = [(rowids[k.derived_id], rowids[k.source_id], k.relation) for k in found]
    if params:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO provenance (derived_rowid, source_rowid, relation, mac) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(*p, macs.of_owned(cipher, macs.LINKS, p)) for p in params],
            )


def facts(conn: Connection, where: str, params: Sequence[Any], cipher: Cipher) -> list[Fact]:
    """The facts ``where`` selects (a condition on ``facts f`` and ``engrams e`` within
    one namespace, whose cipher ``cipher`` is) with their sources, ordered by subject,
    attribute, ``valid_from`` and row; ``DecryptionError`` when an encrypted
    namespace's fact or link does not match its MAC (``macs.FACTS``, ``macs.LINKS``)."""
    found = []
    for row in conn.execute(
        "SELECT f.engram_rowid, e.id, f.namespace, f.subject, f.attribute, f.value, e.text, "
        "f.valid_from, f.valid_to, f.recorded_at, f.invalidated_at, f.status, "
        "f.superseded_by, f.lookup, f.mac FROM facts f "
        f"JOIN engrams e ON e.rowid = f.engram_rowid WHERE {where}",
        params,
    ):
        rowid, eid, ns, subject, attribute, value, text, *rest, lookup, mac = row
        macs.verify_owned_row(
            cipher, macs.FACTS, (rowid, ns, subject, attribute, value, *rest, lookup), mac
        )
        found.append(
            (rowid, eid, ns,
             cipher.open(subject, f"facts.subject:{eid}"),
             cipher.open(attribute, f"facts.attribute:{eid}"),
             cipher.open(value, f"facts.value:{eid}"), cipher.open(text, f"engrams.text:{eid}"),
             *rest)
        )  # fmt: skip
    found.sort(key=lambda r: (r[3], r[4], r[7], r[0]))
    sources: dict[int, list[str]] = {}
    for derived, source_rowid, relation, mac, source in conn.execute(
        "SELECT p.derived_rowid, p.source_rowid, p.relation, p.mac, s.id FROM provenance p "
        "JOIN engrams s ON s.rowid = p.source_rowid "
        "WHERE p.derived_rowid = ANY(%s) ORDER BY p.derived_rowid, p.source_rowid",
        ([r[0] for r in found],),
    ):
        macs.verify_owned_row(cipher, macs.LINKS, (derived, source_rowid, relation), mac)
        sources.setdefault(int(derived), []).append(str(source))
    return [
        Fact(
            engram_id=r[1], namespace=r[2], subject=r[3], attribute=r[4], value=r[5], text=r[6],
            valid_from=r[7], valid_to=r[8], recorded_at=r[9], invalidated_at=r[10], status=r[11],
            superseded_by=r[12], sources=tuple(sources.get(int(r[0]), ())),
        )
        for r in found
    ]  # fmt: skip


def history(conn: Connection, namespace: str, engram_id: str, cipher: Cipher) -> list[Version]:
    """A memory's versions, oldest first; ``DecryptionError`` when an encrypted
    namespace's version row does not match its MAC (``macs``)."""
    found = conn.execute(
        "SELECT v.engram_rowid, v.version, v.text, v.speaker, v.metadata, v.occurred_at, "
        "v.valid_from, v.valid_to, v.mac FROM versions v "
        "JOIN engrams e ON e.rowid = v.engram_rowid "
        "WHERE e.namespace = %s AND e.id = %s ORDER BY v.version",
        (namespace, engram_id),
    )
    out = []
    for row in found:
        _, n, text, speaker, metadata, at, start, end, mac = row
        macs.verify_version(cipher, engram_id, row[:-1], mac)
        aad = f"{engram_id}:{n}"
        out.append(
            Version(
                engram_id,
                int(n),
                cipher.open(text, f"versions.text:{aad}"),
                open_optional(cipher, speaker, f"versions.speaker:{aad}"),
                json.loads(cipher.open(metadata, f"versions.metadata:{aad}")),
                at,
                start,
                end,
            )
        )
    return out
