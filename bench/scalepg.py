"""The PostgreSQL side of ``bench/scale.py``: a store's size and the cluster's resident
memory, and the rows of result files side by side (``scale.py compare``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engramdb import Memory


def is_postgres(store: str | Path) -> bool:
    """As ``bench/locomo.py``'s, which this module imports only when it makes a schema:
    the measuring process's start-up stays that of ``scale.py`` alone."""
    return str(store).startswith(("postgresql://", "postgres://"))


def disk_bytes(url: str) -> int:
    """The schema's tables with their indexes and TOAST (``pg_total_relation_size``)."""
    import psycopg

    with psycopg.connect(url.split("?")[0]) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace s ON s.oid = c.relnamespace"
            " WHERE s.nspname = %s AND c.relkind IN ('r', 'm', 'p')",
            (schema_of(url),),
        ).fetchone()
    return int(row[0]) if row else 0


def names_schema(url: str) -> bool:
    """Whether the URL names its schema (``?schema=``): such a store is kept, and
    ``--reuse`` measures it again."""
    return "schema" in parse_qs(urlsplit(url).query)


def holds_store(url: str) -> bool:
    """Whether the URL's schema already holds a store (its memories' table)."""
    import psycopg

    with psycopg.connect(url.split("?")[0]) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f'"{schema_of(url)}".engrams',)).fetchone()
    return row is not None and row[0] is not None


def schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("schema", ["engramdb"])[0]


def postgres_rss(mem: Memory) -> dict[str, Any]:
    """The PostgreSQL cluster's resident memory: its postmaster and every process the
    postmaster started (backends, checkpointer, writers), from ``/proc``. ``rss_sum_mb``
    counts the shared buffers each process has touched once per process;
    ``private_plus_shared_mb`` counts each process's own pages (``RssAnon``) and the
    shared memory once (the largest ``RssShmem``)."""
    store = mem._store  # the benchmark asks its own connection's backend for its pid
    with store._db.read() as conn:  # type: ignore[attr-defined]
        backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    postmaster = parent_of(backend)
    pids = [postmaster] + [
        int(d.name)
        for d in Path("/proc").iterdir()
        if d.name.isdigit() and parent_of(int(d.name)) == postmaster
    ]
    rss, anon, shmem = 0, 0, 0
    for pid in pids:
        fields = proc_status(pid)
        rss += fields.get("VmRSS", 0)
        anon += fields.get("RssAnon", 0)
        shmem = max(shmem, fields.get("RssShmem", 0))
    return {
        "processes": len(pids),
        "rss_sum_mb": rss / 1024,
        "private_plus_shared_mb": (anon + shmem) / 1024,
    }


def rss_note(rss: dict[str, Any] | None) -> str:
    if rss is None:
        return ""
    return (
        f" PostgreSQL RSS {rss['rss_sum_mb']:.0f} MB summed over {rss['processes']} processes"
        f" ({rss['private_plus_shared_mb']:.0f} MB counting shared memory once);"
    )


def parent_of(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    return -1


def proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/<pid>/status``."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if value.strip().endswith(" kB"):
                out[name] = int(value.split()[0])
    return out


def store_at(given: str) -> contextlib.AbstractContextManager[str]:
    from locomo import store_at as fresh_schema  # one helper for both benchmarks

    return fresh_schema(given)


def pg_rss_cell(rss: dict[str, Any] | None) -> str:
    return "-" if rss is None else f"{rss['rss_sum_mb']:.0f} / {rss['private_plus_shared_mb']:.0f}"


COMPARED: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("ingest (memories/s, add_many)", lambda r: f"{r['ingest']['per_s']:,.0f}"),
    ("open -> first result (s)", lambda r: f"{r['open_to_first_result_s']:.2f}"),
    (
        "search p50/p95/p99 excl. embedding (ms)",
        lambda r: "/".join(
            f"{r['warm']['search_excl_embed_ms'][q]:.1f}" for q in ("p50", "p95", "p99")
        ),
    ),
    (
        "search after another process's add (ms)",
        lambda r: f"{r['after_write']['median_search_ms']:.1f}",
    ),
    ("engramdb process peak RSS (MB)", lambda r: f"{r['rss_after_search_mb']:.0f}"),
    (
        "PostgreSQL RSS, sum / shared once (MB)",
        lambda r: pg_rss_cell(r.get("postgres_rss")),
    ),
    ("disk (MiB)", lambda r: f"{r['disk_mb']:.1f}"),
    (
        "near-verbatim found in top 10",
        lambda r: "{found}/{of}".format(**r["quality"].get("verbatim", {"found": 0, "of": 0})),
    ),
    (
        "top-10 overlap with exhaustive",
        lambda r: (
            "n/a"
            if r["ann"]["top10_overlap_with_exhaustive"] is None
            else f"{r['ann']['top10_overlap_with_exhaustive']:.3f}"
        ),
    ),
    (
        "ANN recall@10 against exact",
        lambda r: (
            "exact"
            if r["ann"]["index_recall_at_10"] is None
            else f"{r['ann']['index_recall_at_10']:.3f}"
        ),
    ),
]


def compare(results: Sequence[Path]) -> str:
    """A markdown table, one column per row of the result files (store and size)."""
    rows = [row for result in results for row in json.loads(result.read_text())["rows"]]
    rows.sort(key=lambda r: (r["n"], r["namespaces"], r.get("store", "sqlite") != "sqlite"))
    head = [
        f"{r.get('store', 'sqlite')} {r['n']:,}"
        + (f" / {r['namespaces']:,} ns" if r["namespaces"] > 1 else "")
        for r in rows
    ]
    lines = ["| | " + " | ".join(head) + " |", "| --- |" + " --- |" * len(rows)]
    lines += [f"| {name} | " + " | ".join(cell(r) for r in rows) + " |" for name, cell in COMPARED]
    return "\n".join(lines)
