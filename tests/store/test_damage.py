"""The damage suite: copies of a store damaged in many ways (docs/reliability.md, "Damage").

Two stores are built once, deterministically (fixed clock, numbered ids), one
plaintext and one encrypted: two namespaces, updated and deleted memories,
consolidation's facts, summaries and links, a saved vector index, an audit log
and a key file beside them, and a copy taken while its ``-wal`` still held
commits. Each case copies one, damages the copy (truncation at several points
including 0, a zeroed page of each table and index, seeded bit flips in each
table's pages, the ``-wal`` missing, cut short or another store's, the saved
vector index and the side files damaged) and then uses it as a user would:
open it, run ``check()`` with the side files' checks (what ``engram check``
runs), and read everything back.

Every case must end in one of three ways: the open is refused with an
``EngramError``; a problem is reported; or everything reads back exactly as
before (the damage hit bytes nothing reads: free space, slack). Anything else
fails the test: a raw exception, a read that fails after a clean check, or
content returned altered. A bit flipped in any column of a memory's row or a
version's row, by hand and well-formed, is reported by its checksum
(``test_a_flipped_bit_in_any_column_of_a_memory_or_version_is_reported``), and so
is a well-formed change of a row that belongs to a memory: its dynamics, vector,
fact, links and consolidation's mark
(``test_a_well_formed_alteration_of_a_memorys_other_rows_is_reported``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import EncryptionKey, EngramError, FixedClock, Memory, Settings
from engramdb.dynamics.emotion import EMOTIONS
from engramdb.security import audit
from engramdb.security.crypto import generate_key
from engramdb.security.keys import KeyRing
from engramdb.store.sqlite import checksums, soundness
from engramdb.testing.fakes import HashEmbedder
from engramdb.validation import KINDS

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
WORDS = ("river", "lantern", "orchard", "violin", "harbour", "meadow", "copper", "saffron")
QUERY = "river lantern"
THRESHOLD = 30  # small, so the saved vector index (an HNSW graph) exists


@dataclass(frozen=True)
class Built:
    """A store built for the suite: where it is, its key, and what it reads back as."""

    kind: str
    root: Path
    key: EncryptionKey | None
    expected: dict[str, Any]


def _settings(root: Path, key: EncryptionKey | None) -> Settings:
    return Settings(path=str(root), ann_threshold=THRESHOLD, encryption=key)


def _fill(root: Path, key: EncryptionKey | None) -> None:
    rng = random.Random(5)
    clock = FixedClock(T0)
    with Memory(settings=_settings(root, key), embedder=HashEmbedder(), clock=clock) as mem:
        for namespace, count in (("alpha", 60), ("beta", 12)):
            items = [
                {
                    "text": " ".join(rng.choices(WORDS, k=10)) + f" {namespace} {i}",
                    "session": f"s{i // 10}",
                    "speaker": "Maya" if i % 2 else "Tom",
                    "metadata": {"i": i, "tag": "x" * (i % 5)},
                }
                for i in range(count)
            ]
            ids = [e.id for e in mem.add_many(items, namespace=namespace)]
            clock.advance(timedelta(minutes=1))
            for engram_id in ids[:8]:
                mem.update(engram_id, namespace=namespace, text="revised " + rng.choice(WORDS))
                # an expiry the row's checksum covers (docs/expiry.md), far after any clock
                mem.set_expiry(engram_id, namespace=namespace, expires_at=T0.replace(year=2999))
            for engram_id in ids[-2:]:
                mem.delete(engram_id, namespace=namespace)
        mem.add("Maya moved to Lisbon in 2021.", namespace="alpha", speaker="Maya")
        clock.advance(timedelta(minutes=1))
        mem.consolidate(namespace="alpha")
        # what the namespace learned and pinned: a judgement, its search, learned weights,
        # and a pinned entry in two versions
        mem.feedback(mem.search(QUERY, namespace="alpha")[0], 1.0, namespace="alpha")
        fact = mem.facts(namespace="alpha")[0].engram_id
        mem.pin("home", "Maya lives in Lisbon", namespace="alpha", source_id=fact)
        clock.advance(timedelta(minutes=1))
        mem.pin("home", "Maya lives in Porto", namespace="alpha", source_id=fact)
        mem.set_budget(namespace="alpha", max_memories=10_000, max_bytes=10_000_000)
    with Memory(settings=_settings(root, key), embedder=HashEmbedder()) as mem:
        _nearest(mem)  # builds the HNSW graph; it is saved at close
    audit.record(str(root), "add", "alpha", count=3)
    audit.record(str(root), "delete", "alpha", target="0" * 32)
    with KeyRing(root / "keys.db") as ring:
        ring.create(name="reader", namespaces=["alpha"], access="read", now=T0)


def _nearest(mem: Memory) -> list[str]:
    vector = HashEmbedder().embed([QUERY])[0]
    return [c.id for c in mem.store.vector_search("alpha", vector, 5)]


def _read_all(root: Path, key: EncryptionKey | None) -> dict[str, Any]:
    with Memory(settings=_settings(root, key), embedder=HashEmbedder()) as mem:
        records = list(mem.export())
        nearest = _nearest(mem)
    return {"records": records, "search": nearest, **_side(root)}


def _side(root: Path) -> dict[str, Any]:
    log = audit.SqliteAuditLog(root / "audit.db")
    try:
        entries = log.entries()
    finally:
        log.close()
    with KeyRing(root / "keys.db") as ring:
        keys = ring.list()
    return {"audit": entries, "keys": keys}


def _side_problems(root: Path) -> list[str]:
    log = audit.SqliteAuditLog(root / "audit.db")
    try:
        found = log.problems()
    finally:
        log.close()
    with KeyRing(root / "keys.db") as ring:
        return found + ring.problems()


@pytest.fixture(scope="module", params=["plain", "encrypted"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    kind = str(request.param)
    root = tmp_path_factory.mktemp(f"damage-{kind}") / "store"
    key = EncryptionKey.from_text(generate_key()) if kind == "encrypted" else None
    numbers = itertools.count(1)
    with pytest.MonkeyPatch.context() as patch:  # numbered ids: the same pages every run
        patch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(numbers)))
        _fill(root, key)
    copy = root.with_name("truth")
    shutil.copytree(root, copy)
    return Built(kind, root, key, _read_all(copy, key))


@pytest.fixture(scope="module")
def with_wal(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A copy of ``built`` taken while its ``-wal`` holds commits the database lacks."""
    return _wal_copy(built, tmp_path_factory.mktemp(f"wal-{built.kind}"), "late")


def _wal_copy(built: Built, where: Path, word: str) -> Built:
    live = where / "live"
    shutil.copytree(built.root, live)
    copy = where / "store"
    mem = Memory(settings=_settings(live, built.key), embedder=HashEmbedder())
    try:
        mem.store._conn.execute("PRAGMA wal_autocheckpoint = 0")  # type: ignore[attr-defined]
        added = mem.add_many([{"text": f"{word} memory {i}"} for i in range(15)], namespace="alpha")
        mem.update(added[0].id, namespace="alpha", text=f"{word} revised")
        shutil.copytree(live, copy)  # as a crash or a careless copy would leave it
    finally:
        mem.close()
    truth = where / "truth"
    shutil.copytree(copy, truth)
    return Built(built.kind, copy, built.key, _read_all(truth, built.key))


# -- what a case ends in ------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ending: str  # "refused", "reported", "intact", "altered", or "raised"
    detail: str = ""


def _verdict(root: Path, built: Built, *, side: bool) -> Verdict:
    try:
        mem = Memory(settings=_settings(root, built.key), embedder=HashEmbedder())
    except EngramError as exc:
        return Verdict("refused", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # the failure this suite exists to find
        return Verdict("raised", f"open: {type(exc).__name__}: {exc}")
    try:
        try:
            problems = mem.check() + (_side_problems(root) if side else [])
        except EngramError as exc:
            return Verdict("refused", f"check: {type(exc).__name__}: {exc}")
        if problems:
            return Verdict("reported", problems[0])
        records = list(mem.export())
        got = {"records": records, "search": _nearest(mem)}
        got |= _side(root) if side else {k: built.expected[k] for k in ("audit", "keys")}
    except Exception as exc:
        # after a clean check, even a typed error means check() missed the damage
        return Verdict("raised", f"after a clean check: {type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(EngramError):
            mem.close()
    changed = _changed(built.expected, got)
    return Verdict("altered", ", ".join(sorted(changed))) if changed else Verdict("intact")


def _changed(expected: dict[str, Any], got: dict[str, Any]) -> set[str]:
    """What differs, by field: ``dynamics``, ``versions.older``, ``search``..."""
    changed = {name for name in ("search", "audit", "keys") if expected[name] != got[name]}
    # what a namespace learned and pinned, exported after its memories, as a whole
    others = [[r for r in g["records"] if "id" not in r] for g in (expected, got)]
    if others[0] != others[1]:
        changed.add("learned or pinned")
    before = {r["id"]: r for r in expected["records"] if "id" in r}
    after = {r["id"]: r for r in got["records"] if "id" in r}
    if before.keys() != after.keys():
        changed.add("ids")
    for engram_id in before.keys() & after.keys():
        old, new = before[engram_id], after[engram_id]
        for name in old.keys() | new.keys():
            if name == "versions" and old.get(name) != new.get(name):
                current = old[name][-1:] != new.get(name, [])[-1:]
                changed.add("versions.current" if current else "versions.older")
            elif old.get(name) != new.get(name):
                changed.add(name)
    return changed


def _acceptable(verdict: Verdict) -> bool:
    """Refused, reported or intact: never altered (every row a read gives back has a
    checksum of all its columns, store/sqlite/checksums.py), never a raw error."""
    return verdict.ending in ("refused", "reported", "intact")


Damage = Callable[[Path], object]


def _run(
    built: Built, cases: Iterator[tuple[str, Damage]], tmp_path: Path, *, side: bool = False
) -> dict[str, Verdict]:
    """Each case on a copy of ``built``; ``side``: the damage is in the audit log or
    the key file, so their checks and reads count too."""
    verdicts: dict[str, Verdict] = {}
    for number, (name, damage) in enumerate(cases):
        copy = tmp_path / f"case-{number}"
        shutil.copytree(built.root, copy)
        damage(copy)
        verdicts[name] = _verdict(copy, built, side=side)
        shutil.rmtree(copy)
    return verdicts


def _assert_each_ends_cleanly(verdicts: dict[str, Verdict], kind: str) -> None:
    bad = {name: v for name, v in verdicts.items() if not _acceptable(v)}
    assert not bad, "\n".join(f"{name}: {v.ending}: {v.detail}" for name, v in bad.items())


# -- the damage ----------------------------------------------------------------


def _flip(path: Path, offset: int, bit: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ (1 << bit)]))


def _zero(path: Path, start: int, length: int) -> None:
    with path.open("r+b") as f:
        f.seek(start)
        f.write(bytes(length))


def _pages(db: Path) -> tuple[dict[str, list[int]], int]:
    """Each table's and index's pages, and the page size (SQLite's dbstat)."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        pages: dict[str, list[int]] = {}
        for name, page in conn.execute("SELECT name, pageno FROM dbstat ORDER BY pageno"):
            pages.setdefault(str(name), []).append(int(page))
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()
    return pages, size


DB = "engram.db"


def _truncations(root: Path) -> Iterator[tuple[str, Damage]]:
    size = (root / DB).stat().st_size
    _, page = _pages(root / DB)
    for cut in (0, 50, 100, page, size // 2, size - page, size - 1):
        yield f"cut to {cut} of {size} bytes", lambda r, cut=cut: os.truncate(r / DB, cut)


def _zeroed_pages(root: Path) -> Iterator[tuple[str, Damage]]:
    pages, size = _pages(root / DB)
    for name, numbers in sorted(pages.items()):
        for number in sorted({numbers[0], numbers[-1]}):
            yield (
                f"page {number} of {name} zeroed",
                lambda r, n=number: _zero(r / DB, (n - 1) * size, size),
            )


def _bit_flips(root: Path, per_table: int) -> Iterator[tuple[str, Damage]]:
    pages, size = _pages(root / DB)
    rng = random.Random(17)
    for name, numbers in sorted(pages.items()):
        for _ in range(per_table):
            number = rng.choice(numbers)
            offset = (number - 1) * size + rng.randrange(100 if number == 1 else 0, size)
            bit = rng.randrange(8)
            yield (
                f"bit {bit} of byte {offset} flipped ({name}, page {number})",
                lambda r, o=offset, b=bit: _flip(r / DB, o, b),
            )


def test_the_suites_value_sets_are_those_the_layers_above_write() -> None:
    assert set(soundness.KINDS) == set(KINDS)
    assert set(soundness.EMOTIONS) == set(EMOTIONS)


def test_a_copy_without_damage_reads_back_intact(built: Built, tmp_path: Path) -> None:
    verdicts = _run(built, iter([("no damage", lambda r: None)]), tmp_path)
    assert verdicts == {"no damage": Verdict("intact")}


def test_truncation_at_every_point_is_refused_or_reported(built: Built, tmp_path: Path) -> None:
    verdicts = _run(built, _truncations(built.root), tmp_path)
    _assert_each_ends_cleanly(verdicts, built.kind)
    # cut anywhere before its last page, the file is never read as a smaller store
    whole_pages = [v for name, v in verdicts.items() if "cut to" in name][:-1]
    assert all(v.ending != "intact" for v in whole_pages), verdicts


def test_a_zeroed_page_of_any_table_or_index_is_refused_or_reported(
    built: Built, tmp_path: Path
) -> None:
    verdicts = _run(built, _zeroed_pages(built.root), tmp_path)
    _assert_each_ends_cleanly(verdicts, built.kind)
    assert len(verdicts) > 30  # every table and index of the schema has its cases
    assert all(v.ending != "intact" for v in verdicts.values()), [
        name for name, v in verdicts.items() if v.ending == "intact"
    ]


def test_bit_flips_in_every_table_end_in_an_error_a_problem_or_nothing_changed(
    built: Built, tmp_path: Path
) -> None:
    verdicts = _run(built, _bit_flips(built.root, per_table=3), tmp_path)
    _assert_each_ends_cleanly(verdicts, built.kind)
    endings = {v.ending for v in verdicts.values()}
    # the flips do reach what matters; whether a flip in the schema's pages is refused at
    # the open or reported by check depends on where the seeded flips land in its text
    assert endings & {"refused", "reported"}


def _unrelated_wal(where: Path, key: EncryptionKey | None) -> Path:
    """The ``-wal`` of another store, one with its own history, holding commits."""
    live = where / "unrelated"
    mem = Memory(settings=_settings(live, key), embedder=HashEmbedder())
    try:
        mem.store._conn.execute("PRAGMA wal_autocheckpoint = 0")  # type: ignore[attr-defined]
        mem.add_many([{"text": f"unrelated {i} " * 20} for i in range(60)], namespace="zeta")
        shutil.copy(live / f"{DB}-wal", where / "foreign-wal")
    finally:
        mem.close()
    return where / "foreign-wal"


def test_a_missing_or_foreign_wal_is_refused_or_reported(
    with_wal: Built, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    foreign = _unrelated_wal(tmp_path_factory.mktemp("foreign"), with_wal.key)
    wal, shm = f"{DB}-wal", f"{DB}-shm"
    cases: list[tuple[str, Damage]] = [
        ("nothing", lambda r: None),
        ("-wal missing", lambda r: (r / wal).unlink()),
        ("-wal cut in half", lambda r: os.truncate(r / wal, (r / wal).stat().st_size // 2)),
        ("-wal of another store", lambda r: shutil.copy(foreign, r / wal)),
        (
            "-wal of another store, no -shm",
            lambda r: (shutil.copy(foreign, r / wal), (r / shm).unlink()),
        ),
    ]
    verdicts = _run(with_wal, iter(cases), tmp_path)
    _assert_each_ends_cleanly(verdicts, with_wal.kind)
    assert verdicts["nothing"] == Verdict("intact")
    for name in ("-wal missing", "-wal cut in half", "-wal of another store"):
        assert verdicts[name].ending == "refused", verdicts[name]
        assert "engram check --repair --from BACKUP" in verdicts[name].detail
    assert verdicts["-wal of another store, no -shm"].ending in ("refused", "reported")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            "-wal and -shm lost",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the database file alone is a store as of its last checkpoint: "
                "nothing in it says that a -wal held more (docs/reliability.md, 'What "
                "check cannot see')",
            ),
        ),
        "-wal of a copy, no -shm",
        "its own -wal, no -shm",
    ],
)
def test_a_wal_without_its_shm_is_held_to_its_database(
    built: Built,
    with_wal: Built,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    case: str,
) -> None:
    wal, shm = f"{DB}-wal", f"{DB}-shm"
    sibling = _wal_copy(built, tmp_path_factory.mktemp("sibling"), "sibling").root / wal

    def damage(r: Path) -> None:
        (r / shm).unlink()
        if case == "-wal and -shm lost":
            (r / wal).unlink()
        elif case == "-wal of a copy, no -shm":
            shutil.copy(sibling, r / wal)

    verdicts = _run(with_wal, iter([(case, damage)]), tmp_path)
    assert verdicts[case].ending in ("refused", "reported"), verdicts[case]
    if case != "-wal and -shm lost":
        assert f"{wal} has no {shm} beside it" in verdicts[case].detail, verdicts[case]
        assert "engram check --repair --from BACKUP" in verdicts[case].detail


def test_a_checkpointed_wal_without_its_shm_opens_intact(with_wal: Built, tmp_path: Path) -> None:
    """What a crash between SQLite's two deletions at a last close leaves (the -shm
    gone, the -wal not yet): every page of the -wal is in the database file already."""
    wal = f"{DB}-wal"

    def left(r: Path) -> None:
        conn = sqlite3.connect(r / DB, isolation_level=None)
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert (busy, copied) == (0, frames)  # every frame is in the database file
            assert frames > 0
            kept = (r / wal).read_bytes()
        finally:
            conn.close()  # the last connection: deletes the -shm, then the -wal
        (r / wal).write_bytes(kept)

    verdicts = _run(with_wal, iter([("checkpointed -wal, no -shm", left)]), tmp_path)
    assert verdicts == {"checkpointed -wal, no -shm": Verdict("intact")}


def _index_file(root: Path) -> Path:
    (found,) = sorted(root.glob(f"{DB}.ann-*"))
    return found


def test_a_damaged_or_missing_saved_vector_index_is_reported_or_rebuilt(
    built: Built, tmp_path: Path
) -> None:
    size = _index_file(built.root).stat().st_size
    rng = random.Random(3)
    cases: list[tuple[str, Damage]] = [
        ("missing", lambda r: _index_file(r).unlink()),
        ("empty", lambda r: _index_file(r).write_bytes(b"")),
        ("cut in half", lambda r: os.truncate(_index_file(r), size // 2)),
    ]
    for _ in range(8):
        offset, bit = rng.randrange(size), rng.randrange(8)
        cases.append(
            (f"bit {bit} of byte {offset}", lambda r, o=offset, b=bit: _flip(_index_file(r), o, b))
        )
    verdicts = _run(built, iter(cases), tmp_path)
    _assert_each_ends_cleanly(verdicts, built.kind)
    assert verdicts["missing"] == Verdict("intact")  # derived: rebuilt from the table
    assert all(v.ending == "reported" for name, v in verdicts.items() if name != "missing")


@pytest.mark.parametrize("side", ["audit.db", "keys.db"])
def test_a_damaged_side_file_is_refused_or_reported(
    built: Built, tmp_path: Path, side: str
) -> None:
    size = (built.root / side).stat().st_size
    pages, page = _pages(built.root / side)
    table = "audit" if side == "audit.db" else "api_keys"
    (data_page,) = pages[table]
    rng = random.Random(side)
    cases: list[tuple[str, Damage]] = [
        ("empty", lambda r: (r / side).write_bytes(b"")),
        ("cut in half", lambda r: os.truncate(r / side, size // 2)),
        ("data page zeroed", lambda r: _zero(r / side, (data_page - 1) * page, page)),
    ]
    for _ in range(6):
        offset = (data_page - 1) * page + rng.randrange(page)
        bit = rng.randrange(8)
        cases.append(
            (f"bit {bit} of byte {offset}", lambda r, o=offset, b=bit: _flip(r / side, o, b))
        )
    verdicts = _run(built, iter(cases), tmp_path, side=True)
    _assert_each_ends_cleanly(verdicts, built.kind)
    assert verdicts["empty"].ending == "refused"
    assert "empty (0 bytes)" in verdicts["empty"].detail


# -- a bit flipped in a column of a memory's row or a version's row -------------------

#: The row each flip of a covered column alters (``checksums.ENGRAM_FIELDS`` and
#: ``VERSION_FIELDS``, which the last test here holds to every column of the tables): a
#: memory updated (so it has an older version) with a session, a speaker and an
#: analysis; its first, closed version.
_UPDATED = "SELECT MIN(engram_rowid) FROM versions WHERE version = 2"
_ROWS = {
    "engrams": f"rowid = ({_UPDATED})",
    "versions": f"engram_rowid = ({_UPDATED}) AND version = 1",
    "learned": "kind = 'feedback'",
    "profile_entries": "version = 1",
    "budgets": "namespace = 'alpha'",
}


def _flipped(value: object) -> object:
    """``value`` with one bit flipped, of the same type and still well-formed where it
    can be: the lowest bit of an integer, of the fourth character of a text (a time's
    year, a hex digit of an id; the last of a shorter one), of the middle byte of a
    sealed value. An empty text (index keys of a text without dates) gets a space."""
    if isinstance(value, int):
        return value ^ 1
    if isinstance(value, str):
        if not value:
            return " "
        at = min(3, len(value) - 1)
        assert value[at].isascii(), value
        return value[:at] + chr(ord(value[at]) ^ 1) + value[at + 1 :]
    assert isinstance(value, bytes), value
    middle = len(value) // 2
    return value[:middle] + bytes([value[middle] ^ 1]) + value[middle + 1 :]


def _flip_column(table: str, column: str) -> Damage:
    where = _ROWS[table]

    def flip(root: Path) -> None:
        conn = sqlite3.connect(root / DB, isolation_level=None)
        try:
            (value,) = conn.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()
            assert value is not None, (table, column)
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (_flipped(value),))
        finally:
            conn.close()

    return flip


@pytest.mark.parametrize(
    ("table", "column"),
    [("engrams", c) for c in checksums.ENGRAM_FIELDS]
    + [("versions", c) for c in checksums.VERSION_FIELDS],
)
def test_a_flipped_bit_in_any_column_of_a_memory_or_version_is_reported(
    built: Built, tmp_path: Path, table: str, column: str
) -> None:
    """Written through SQLite, so every page and index stays sound: only the row's
    checksum (a MAC in an encrypted store) can tell."""
    name = f"{table}.{column}"
    verdicts = _run(built, iter([(name, _flip_column(table, column))]), tmp_path)
    assert verdicts[name].ending in ("refused", "reported"), verdicts[name]


@pytest.mark.parametrize(
    ("table", "column"),
    [(t.name, c) for t in checksums.NAMESPACE_TABLES for c in t.fields],
)
def test_a_flipped_bit_in_any_column_of_a_namespaces_rows_is_reported(
    built: Built, tmp_path: Path, table: str, column: str
) -> None:
    """A judgement's row, a pinned entry's older version and a budget: ``check()``
    names the row, and a read of it (``export`` reads the first two) raises a typed
    error instead of giving it back altered."""
    copy = tmp_path / "copy"
    shutil.copytree(built.root, copy)
    _flip_column(table, column)(copy)
    with Memory(settings=_settings(copy, built.key), embedder=HashEmbedder()) as mem:
        problems = mem.check()
        assert any(p.startswith(f"{table}: 1 row does not match") for p in problems), problems
        if (table, column) in (
            ("learned", "namespace"),
            ("learned", "kind"),
            ("budgets", "namespace"),
        ):
            return  # no longer read as the namespace's: check() alone tells

        def read() -> object:  # export reads what a namespace learned and pinned
            return mem.budget(namespace="alpha") if table == "budgets" else list(mem.export())

        with pytest.raises(EngramError, match=r"match its checksum|authenticate"):
            read()


def test_the_row_checksums_cover_every_column_of_the_rows(tmp_path: Path) -> None:
    with Memory(settings=_settings(tmp_path, None), embedder=HashEmbedder()) as mem:
        conn = mem.store._conn  # type: ignore[attr-defined]
        tables = [("engrams", checksums.ENGRAM_FIELDS), ("versions", checksums.VERSION_FIELDS)]
        tables += [(t.name, t.fields) for t in (*checksums.ROW_TABLES, *checksums.NAMESPACE_TABLES)]
        for table, covered in tables:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns = {str(r[1]) for r in info} | ({"rowid"} if table == "engrams" else set())
            assert columns - {"checksum"} == set(covered), table


# -- well-formed alterations of the rows that belong to a memory -------------------


def _alter(sql: str) -> Damage:
    def alter(root: Path) -> None:
        conn = sqlite3.connect(root / DB, isolation_level=None)
        try:
            conn.execute(sql)
        finally:
            conn.close()

    return alter


#: name -> the alteration: a value that stays well-formed, with no second copy to
#: hold it to, in each table of rows that belong to a memory
ALTERATIONS = {
    "an importance halved": "UPDATE dynamics SET importance = importance / 2 "
    "WHERE engram_rowid = (SELECT MIN(engram_rowid) FROM dynamics)",
    "a recall counted twice": "UPDATE dynamics SET recalls = recalls + 1 "
    "WHERE engram_rowid = (SELECT MAX(engram_rowid) FROM dynamics)",
    "a link to another memory of the namespace": "UPDATE provenance "
    "SET source_rowid = source_rowid + 1 "
    "WHERE derived_rowid = (SELECT MIN(derived_rowid) FROM provenance)",
    "a fact's status": "UPDATE facts SET status = CASE status WHEN 'current' "
    "THEN 'stale' ELSE 'current' END WHERE engram_rowid = (SELECT MIN(engram_rowid) FROM facts)",
    "a vector's scale": "UPDATE vectors SET scale = scale * 2 "
    "WHERE engram_rowid = (SELECT MIN(engram_rowid) FROM vectors)",
    "a consolidation mark moved back": "UPDATE consolidated SET version = version - 1 "
    "WHERE engram_rowid = (SELECT MIN(engram_rowid) FROM consolidated)",
}


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_a_well_formed_alteration_of_a_memorys_other_rows_is_reported(
    built: Built, tmp_path: Path, alteration: str
) -> None:
    verdicts = _run(built, iter([(alteration, _alter(ALTERATIONS[alteration]))]), tmp_path)
    assert verdicts[alteration].ending in ("refused", "reported"), verdicts[alteration]


def test_consolidations_mark_moved_past_a_pending_episode_is_reported(
    built: Built, tmp_path: Path
) -> None:
    """``consumed_to`` is a shortcut with no checksum: raised past an episode not yet
    consolidated it would hide the episode from every later run. The episodes' own
    marks (checksummed) tell."""
    copy = tmp_path / "copy"
    shutil.copytree(built.root, copy)
    with Memory(settings=_settings(copy, built.key), embedder=HashEmbedder()) as mem:
        mem.add("Tom moved to Oslo in 2023.", namespace="alpha", speaker="Tom")
        assert mem.check() == []  # pending above the mark: sound
    _alter(
        "UPDATE consolidation_state SET consumed_to = (SELECT MAX(rowid) FROM engrams) "
        "WHERE namespace = 'alpha'"
    )(copy)
    with Memory(settings=_settings(copy, built.key), embedder=HashEmbedder()) as mem:
        problems = mem.check()
    assert any(p.startswith("consolidation's mark of what is consumed") for p in problems)
    with Memory(settings=_settings(copy, built.key), embedder=HashEmbedder()) as mem:
        mem.reindex()  # the mark is a shortcut: the whole store's rebuild sets it back
        assert mem.check() == []
        assert mem.consolidate(namespace="alpha").episodes == 1
