"""The passes of a PostgresStore over every sealed value (docs/security.md).

Owns sealing a plaintext store in place (``seal_store``: ``Memory.encrypt``),
finding the sealed values that no longer open (``unopenable``: ``check``) and
each memory's lexical terms as they should be (``opened_terms``: ``reindex``
and ``check``), all inside the caller's transaction. What each value's sealed
form and associated data are is ``store.postgres.rows``' (the SQLite store's
spelling); the keys are ``store.postgres.sealed``'s.
"""

from __future__ import annotations

from engramdb.errors import DecryptionError
from engramdb.store.codec import (
    learned_aad,
    profile_aad,
    seal_emotion,
    seal_optional,
    sealed_fact,
    sealed_version,
)
from engramdb.store.postgres import macs, profile
from engramdb.store.postgres.database import Connection
from engramdb.store.postgres.lexical import terms_for
from engramdb.store.postgres.rows import CipherOf, fact_key
from engramdb.store.postgres.sealed import DataKeys, seal_vector

__all__ = ["opened_terms", "seal_store", "unopenable"]


def opened_terms(
    conn: Connection, cipher_of: CipherOf, namespace: str | None = None, *, lenient: bool = False
) -> list[tuple[int, list[str], list[str]]]:
    """(row, the terms its text and keys make, the terms it holds) of every memory, or
    of one namespace's; ``lenient`` leaves out the rows whose text does not open
    (``check`` counts those apart), else they raise ``DecryptionError``."""
    sql = "SELECT rowid, id, namespace, text, keys, terms FROM engrams"
    found = (
        conn.execute(sql)
        if namespace is None
        else conn.execute(sql + " WHERE namespace = %s", (namespace,))
    )
    out = []
    for rowid, eid, ns, text, keys, terms in found:
        c = cipher_of(ns)
        try:
            opened_text = c.open(text, f"engrams.text:{eid}")
            opened_keys = c.open(keys, f"engrams.keys:{eid}")
        except DecryptionError:
            if lenient:
                continue
            raise
        out.append((int(rowid), terms_for(c, opened_text, opened_keys), list(terms)))
    return out


def unopenable(conn: Connection, cipher_of: CipherOf, vectors_sealed: bool) -> list[str]:
    """Per table, how many sealed values fail to open (a flipped bit anywhere shows);
    empty when all open."""
    failed: dict[str, int] = {}

    def attempt(table: str, ns: str, value: object, aad: str, *, raw: bool = False) -> None:
        if value is None:
            return
        try:
            if raw:
                cipher_of(ns).open_bytes(value, aad)
            else:
                cipher_of(ns).open(value, aad)
        except DecryptionError:
            failed[table] = failed.get(table, 0) + 1

    for eid, ns, text, keys, metadata, speaker, emotion, sealed in conn.execute(
        "SELECT id, namespace, text, keys, metadata, speaker, emotion, sealed_vector FROM engrams"
    ):
        for column, value in (("text", text), ("keys", keys), ("metadata", metadata)):
            attempt("engrams", ns, value, f"engrams.{column}:{eid}")
        attempt("engrams", ns, speaker, f"engrams.speaker:{eid}")
        attempt("dynamics", ns, emotion, f"dynamics.emotion:{eid}")
        if vectors_sealed:
            attempt("vectors", ns, sealed, f"vectors:{eid}", raw=True)
    for eid, ns, version, text, speaker, metadata in conn.execute(
        "SELECT e.id, e.namespace, v.version, v.text, v.speaker, v.metadata FROM versions v "
        "JOIN engrams e ON e.rowid = v.engram_rowid"
    ):
        for column, value in (("text", text), ("speaker", speaker), ("metadata", metadata)):
            attempt("versions", ns, value, f"versions.{column}:{eid}:{version}")
    for eid, ns, subject, attribute, value in conn.execute(
        "SELECT e.id, f.namespace, f.subject, f.attribute, f.value FROM facts f "
        "JOIN engrams e ON e.rowid = f.engram_rowid"
    ):
        for column, held in (("subject", subject), ("attribute", attribute), ("value", value)):
            attempt("facts", ns, held, f"facts.{column}:{eid}")
    for ns, kind, key, value in conn.execute("SELECT namespace, kind, key, value FROM learned"):
        attempt("learned", ns, value, learned_aad(ns, kind, key))
    for ns, tag, version, key, text in conn.execute(
        "SELECT namespace, key, version, sealed_key, text FROM profile_entries"
    ):
        attempt("profile_entries", ns, key, profile_aad("key", ns, tag, version))
        attempt("profile_entries", ns, text, profile_aad("text", ns, tag, version))
    return [f"{table}: {n} values fail to decrypt" for table, n in sorted(failed.items())]


def seal_store(conn: Connection, keys: DataKeys) -> int:
    """Seal every value of a plaintext store with ``keys`` (a new encryption record)
    and make its lexical terms blind; the number of memories. A sealed vector leaves
    ``embedding`` for ``sealed_vector``. The old row versions stay in the relation
    files until the operator's ``VACUUM FULL`` (docs/postgres.md)."""
    cipher_of = keys.ciphers(conn, create=True)
    found = conn.execute(
        "SELECT rowid, id, namespace, text, keys, metadata, speaker, valence, arousal, "
        "emotion, embedding FROM engrams ORDER BY rowid"
    ).fetchall()
    for rowid, eid, ns, text, index_keys, metadata, speaker, val, aro, emotion, vec in found:
        c = cipher_of(ns)
        embedding, sealed = None, None
        if keys.vectors_sealed:
            sealed = seal_vector(c, eid, vec.to_numpy())
        else:
            embedding = vec
        conn.execute(
            "UPDATE engrams SET text = %s, keys = %s, metadata = %s, speaker = %s, "
            "valence = %s, arousal = %s, emotion = %s, terms = %s, embedding = %s, "
            "sealed_vector = %s WHERE rowid = %s",
            (
                c.seal(text, f"engrams.text:{eid}"),
                c.seal(index_keys, f"engrams.keys:{eid}"),
                c.seal(metadata, f"engrams.metadata:{eid}"),
                seal_optional(c, speaker, f"engrams.speaker:{eid}"),
                *seal_emotion(c, eid, float(val), float(aro), emotion),
                terms_for(c, text, index_keys),
                embedding,
                sealed,
                rowid,
            ),
        )
    for rowid, version, eid, ns, text, speaker, metadata in conn.execute(
        "SELECT v.engram_rowid, v.version, e.id, e.namespace, v.text, v.speaker, v.metadata "
        "FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid"
    ).fetchall():
        conn.execute(
            "UPDATE versions SET text = %s, speaker = %s, metadata = %s "
            "WHERE engram_rowid = %s AND version = %s",
            (
                *sealed_version(cipher_of(ns), eid, version, text, speaker, metadata),
                rowid,
                version,
            ),
        )
    for rowid, eid, ns, subject, attribute, value in conn.execute(
        "SELECT f.engram_rowid, e.id, f.namespace, f.subject, f.attribute, f.value "
        "FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid"
    ).fetchall():
        c = cipher_of(ns)
        conn.execute(
            "UPDATE facts SET subject = %s, attribute = %s, value = %s, lookup = %s "
            "WHERE engram_rowid = %s",
            (
                *sealed_fact(c, eid, subject, attribute, value),
                c.tag(fact_key(subject, attribute)),  # the keyed token, no longer plain
                rowid,
            ),
        )
    # repetition: plain digests become keyed tags, counts and times kept
    for ns, tag, content in conn.execute(
        "SELECT namespace, tag, content FROM identities"
    ).fetchall():
        c = cipher_of(ns)
        conn.execute(
            "UPDATE identities SET tag = %s, content = %s WHERE namespace = %s AND tag = %s",
            (c.tag(tag), c.tag(content), ns, tag),
        )
    for ns, kind, key, value in conn.execute(
        "SELECT namespace, kind, key, value FROM learned"
    ).fetchall():
        conn.execute(
            "UPDATE learned SET value = %s WHERE namespace = %s AND kind = %s AND key = %s",
            (cipher_of(ns).seal(value, learned_aad(ns, kind, key)), ns, kind, key),
        )
    profile.seal(conn, cipher_of)
    macs.seal(conn, cipher_of)  # the clear columns of every memory's row
    macs.seal_versions(conn, cipher_of)
    for table in macs.OWNED:  # every fact's row and every link's
        macs.seal_owned(conn, cipher_of, table)
    return len(found)
