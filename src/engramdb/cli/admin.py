"""Store administration: namespaces, stats, budget, fade, reindex, check, backup,
restore, delete-where, forget-namespace, verify-erasure, audit.

These commands look after a store as a whole. They own the confirmation of the
destructive commands (``delete-where``, ``forget-namespace``, ``restore
--force``); the work itself is the facade's.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from engramdb import Deletion, IntegrityError, Memory, StoreError, wire
from engramdb.cli.errors import EXIT_FAILURE, EXIT_USAGE, fail
from engramdb.cli.output import counted, emit_json, iso, stats_line
from engramdb.cli.state import (
    AfterOption,
    BeforeOption,
    NamespaceOption,
    State,
    WhereOption,
    parse_filters,
    parse_time,
    state,
)
from engramdb.options import DELETE_WHERE
from engramdb.security import audit, store_files, where_found
from engramdb.security.keys import KeyRing, keys_path
from engramdb.store import is_postgres, salvage, set_aside

__all__ = [
    "audit_log",
    "backup",
    "budget",
    "check",
    "delete_where",
    "fade",
    "forget_namespace",
    "interactive",
    "namespaces",
    "reindex",
    "restore",
    "stats",
    "verify_erasure",
]


def namespaces(ctx: typer.Context) -> None:
    """List the namespaces that hold memories."""
    cli = state(ctx)
    with cli.existing_memory() as mem:
        names = mem.namespaces()
    if cli.json:
        emit_json({"namespaces": names})
        return
    for name in names:
        typer.echo(name)


def stats(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """Count memories, versions and sessions (every namespace unless one is given)."""
    cli = state(ctx)
    ns = cli.resolve_optional(namespace)
    with cli.existing_memory() as mem:
        names = [ns] if ns is not None else mem.namespaces()
        found = [mem.stats(namespace=name) for name in names]
    if cli.json:
        emit_json({"namespaces": [wire.to_json(s) for s in found]})
        return
    if not found:
        typer.echo("the store is empty")
    for item in found:
        typer.echo(stats_line(item))


def budget(
    ctx: typer.Context,
    namespace: Annotated[
        str, typer.Argument(metavar="NS", help="The namespace.", show_default=False)
    ],
    max_memories: Annotated[
        int | None,
        typer.Option("--max-memories", metavar="N", help="The most active memories it keeps."),
    ] = None,
    max_bytes: Annotated[
        int | None,
        typer.Option("--max-bytes", metavar="B", help="The most text bytes they hold."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the budget.")] = False,
) -> None:
    """Show a namespace's budget, or store a new one (the bounds given; the rest unbounded)."""
    cli = state(ctx)
    setting = max_memories is not None or max_bytes is not None
    if clear and setting:
        raise fail("--clear takes no --max-memories or --max-bytes", EXIT_USAGE)
    # the read form creates no store; storing a budget does, like any write
    with cli.memory() if setting or clear else cli.existing_memory() as mem:
        if setting or clear:
            mem.set_budget(namespace=namespace, max_memories=max_memories, max_bytes=max_bytes)
            audit.record(cli.settings.path, "set_budget", namespace)
        found = mem.budget(namespace=namespace)
    bounds = (None, None) if found is None else (found.max_memories, found.max_bytes)
    if cli.json:
        emit_json({"namespace": namespace, "max_memories": bounds[0], "max_bytes": bounds[1]})
    elif found is None:
        typer.echo(f"{namespace}: no budget")
    else:
        parts = [
            f"at most {counted(bounds[0])}" if bounds[0] is not None else None,
            f"at most {bounds[1]:,} bytes" if bounds[1] is not None else None,
        ]
        typer.echo(f"{namespace}: " + ", ".join(p for p in parts if p))


def fade(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", metavar="ISO", help="The time retention is judged at (default: the clock)."
        ),
    ] = None,
) -> None:
    """Put aside faded and over-budget memories (every namespace unless one is given)."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    ns = cli.resolve_optional(namespace)
    faded: list[tuple[str, int]] = []
    with cli.memory() as mem:
        for name in [ns] if ns is not None else mem.namespaces():
            count = mem.fade(namespace=name, now=at)
            # one entry per namespace, as each is done: a later failure keeps the earlier ones
            audit.record(cli.settings.path, "fade", name, count=count)
            faded.append((name, count))
    if cli.json:
        emit_json({"namespaces": [{"namespace": n, "dormant": c} for n, c in faded]})
        return
    for name, count in faded:
        typer.echo(f"{name}: {counted(count)} turned dormant")


def reindex(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """Rebuild the derived indexes (every namespace unless one is given)."""
    cli = state(ctx)
    ns = cli.resolve_optional(namespace)
    with cli.memory() as mem:
        count = mem.reindex(namespace=ns)
    if cli.json:
        emit_json({"reindexed": count, "namespace": ns})
    else:
        typer.echo(f"reindexed {counted(count)}")


def check(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="When problems are found: rebuild the derived indexes; if problems "
            "are left or the store does not open, salvage its rows into a new file; "
            "if the memories' own rows are damaged, restore the backup named by --from.",
        ),
    ] = False,
    backup: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="BACKUP",
            exists=True,
            dir_okay=False,
            readable=True,
            help="With --repair: the backup to restore (verified first) when the "
            "memories' own rows are damaged.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the store's files and indexes; exit 1 when problems are found (or left)."""
    cli = state(ctx)
    if backup is not None and not repair:
        raise fail("--from needs --repair", EXIT_USAGE)
    if repair:
        cli.sqlite_only(
            "check --repair rebuilds a SQLite store's files; on PostgreSQL run 'engram "
            "reindex', or restore the database from pg_dump (docs/postgres.md)"
        )
    cli.require_store()
    if repair:
        found, repaired, left = _repair(cli, backup)
    else:
        with cli.existing_memory() as mem:
            found = mem.check() + _side_problems(cli.settings.path)
        repaired, left = [], found
    if cli.json:
        out: dict[str, object] = {"ok": not left, "problems": found}
        if repair:
            out |= {"repaired": repaired, "left": left}
        emit_json(out)
    else:
        for problem in found:
            typer.echo(f"problem: {problem}")
        for action in repaired:
            typer.echo(f"repaired: {action}")
        if repair and found:
            for problem in left:
                typer.echo(f"left: {problem}")
        if not left:
            typer.echo("ok")
        elif repair and backup is None and left:
            typer.echo("the repair cannot fix what is left: restore a backup with --from BACKUP")
    if left:
        raise typer.Exit(EXIT_FAILURE)


def _repair(cli: State, backup: Path | None) -> tuple[list[str], list[str], list[str]]:
    """``engram check --repair``: what was found, what was done, what is left
    (docs/reliability.md, "Repair").

    First the derived indexes are rebuilt in place. When problems are left, or
    the store does not open, the rows that are not derived are salvaged into a
    new file (SQLite's indexes, the lexical index and the change log built
    anew) and that replaces the content; when the memories' own rows are
    damaged, the backup named by ``--from`` does.
    """
    side = _side_problems(cli.settings.path)
    repaired: list[str] = []
    try:
        mem = cli.memory()
    except IntegrityError as exc:  # damage that stops the store opening
        found = [f"the store does not open: {exc}"]
    else:
        with mem:
            found = mem.check()
            if not found:
                return side, repaired, side
            try:
                count = mem.reindex()
                repaired.append(
                    f"rebuilt the derived indexes of {counted(count)} (lexical index, "
                    "SQLite indexes, vector change log, saved vector indexes)"
                )
                if not mem.check():
                    return found + side, repaired, side
            except StoreError as exc:
                repaired.append(f"rebuilding the derived indexes in place failed: {exc}")
    return found + side, repaired, _replace(cli, backup, repaired) + side


def _replace(cli: State, backup: Path | None, repaired: list[str]) -> list[str]:
    """Replace the content with its salvaged rows, else with ``backup``; what is left."""
    scratch = _scratch(cli.settings.path)
    try:
        try:
            count = salvage(cli.settings.path, scratch)
            with Memory(settings=cli.settings.with_path(str(scratch))) as copy:
                copy.reindex()
                problems = copy.check()
            if problems:
                raise IntegrityError("; ".join(problems[:3]))
        except IntegrityError as exc:
            repaired.append(f"salvaging the rows is not enough: {exc}")
            if backup is None:
                return ["the memories' own rows are damaged: only a backup can repair them"]
            _verified(cli, backup)
            source, what = backup, f"from {backup}"
        else:
            source, what = scratch, f"salvaged from the damaged store ({counted(count)} read whole)"
        count = _restore(cli, source, repaired)
        repaired.append(f"restored {counted(count)} {what}")
    finally:
        for suffix in ("", "-wal", "-shm", "-journal", "-reserve"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    with cli.existing_memory() as mem:
        return mem.check()


def _scratch(store: str) -> Path:
    path = Path(store)
    folder = path if path.is_dir() else path.parent
    return folder / f".salvage-{os.getpid()}.db"


def _verified(cli: State, backup: Path) -> None:
    """``IntegrityError`` unless ``backup`` opens with the store's key and checks clean."""
    with Memory(settings=cli.settings.with_path(str(backup)), read_only=True) as copy:
        problems = copy.check()
    if problems:
        raise IntegrityError(
            f"the backup {backup} failed its checks, nothing was restored: "
            + "; ".join(problems[:5])
        )


def _restore(cli: State, source: Path, repaired: list[str]) -> int:
    """Restore ``source`` in place (one transaction, safe for other processes); when the
    damaged store does not open or take it, set its files aside and restore into a
    new one in their place."""
    try:
        with cli.memory() as mem:
            count = mem.restore_backup(source, force=True)
    except StoreError as exc:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = set_aside(cli.settings.path, f"damaged-{stamp}")
        repaired.append(
            f"moved the damaged files to {folder} ({exc.__class__.__name__} when restoring "
            "in place; they hold memories: delete them once they are of no use)"
        )
        with cli.memory() as mem:
            count = mem.restore_backup(source, force=True)
    audit.record(cli.settings.path, "restore", None, count=count)
    return count


def _side_problems(store: str) -> list[str]:
    """The audit log's and the key file's problems (files of their own beside the store)."""
    found: list[str] = []
    where = audit.audit_path(store)
    if where is not None and (is_postgres(where) or Path(where).is_file()):
        try:
            log = audit.audit_table(where)
        except StoreError as exc:
            found.append(str(exc))
        else:
            try:
                found += log.problems()
            finally:
                log.close()
    if is_postgres(store) or (
        store != ":memory:" and "://" not in store and Path(keys_path(store)).is_file()
    ):
        try:
            with KeyRing(keys_path(store)) as ring:
                found += ring.problems()
        except StoreError as exc:
            found.append(str(exc))
    return found


def backup(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", dir_okay=False, help="The backup file to write.", show_default=False
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite PATH if it already exists.")
    ] = False,
) -> None:
    """Write a consistent copy of the store to PATH while it stays in use."""
    cli = state(ctx)
    cli.sqlite_only(
        "engram backup copies a SQLite store; back up a PostgreSQL store with pg_dump, "
        "or move its memories with 'engram export' (docs/postgres.md)"
    )
    if path.exists() and not force:
        raise fail(f"{path} already exists; pass --force to overwrite it", EXIT_USAGE)
    with cli.existing_memory() as mem:
        written = mem.backup(path)
    size = written.stat().st_size
    if cli.json:
        emit_json({"backup": str(written), "bytes": size})
    else:
        typer.echo(f"backed up the store to {written} ({size:,} bytes)")


def restore(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            exists=True,
            dir_okay=False,
            readable=True,
            help="The backup file to restore.",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a store that already holds memories."),
    ] = False,
) -> None:
    """Replace the store's content with a backup, after verifying the backup."""
    cli = state(ctx)
    cli.sqlite_only(
        "engram restore reads a SQLite backup; restore a PostgreSQL store from pg_dump "
        "with pg_restore, or load an export with 'engram import' (docs/postgres.md)"
    )
    with cli.memory() as mem:
        count = mem.restore_backup(path, force=force)
    # Every namespace was replaced: no namespace on the entry, the count of memories.
    audit.record(cli.settings.path, "restore", None, count=count)
    if cli.json:
        emit_json({"restored": count, "backup": str(path)})
    else:
        typer.echo(f"restored {counted(count)} from {path}")


def interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


def delete_where(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    where: WhereOption = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kinds", metavar="KIND", help=f"{DELETE_WHERE.help('kinds')} Repeatable."),
    ] = None,
    occurred_after: AfterOption = None,
    occurred_before: BeforeOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=DELETE_WHERE.help("dry_run"))] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the memories that pass a filter, with what they take along (facts,
    summaries). Shows how many would go and asks first (docs/security.md)."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    options = {**parse_filters(where, occurred_after, occurred_before), "kinds": kinds or None}
    if not (yes or dry_run or interactive()):
        raise fail(
            f"refusing to delete in {ns!r} without --yes (no terminal to ask on)", EXIT_USAGE
        )
    with cli.memory() as mem:
        report = mem.delete_where(namespace=ns, dry_run=True, **options)
        if not dry_run and report.count and not yes:
            question = f"Delete {_deletion_counts(report)} in namespace {ns!r}?"
            if not typer.confirm(question, err=True):
                raise fail("not confirmed; nothing was deleted", EXIT_FAILURE)
        if not dry_run and report.count:
            report = mem.delete_where(namespace=ns, **options)
    if not report.dry_run:
        audit.record(cli.settings.path, "delete_where", ns, count=report.count)
    if cli.json:
        emit_json(wire.to_json(report))
    else:
        verb = "would delete" if report.dry_run else "deleted"
        typer.echo(f"{verb} {_deletion_counts(report)} in {ns!r}")


def _deletion_counts(report: Deletion) -> str:
    """``3 memories (2 matched, 1 derived)``."""
    return f"{counted(report.count)} ({len(report.ids)} matched, {len(report.derived)} derived)"


def forget_namespace(
    ctx: typer.Context,
    namespace: Annotated[
        str, typer.Argument(metavar="NS", help="The namespace to erase.", show_default=False)
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a namespace: every memory, version and index entry in it."""
    cli = state(ctx)
    if not yes:
        if not interactive():
            raise fail(
                f"refusing to erase {namespace!r} without --yes (no terminal to ask on)", EXIT_USAGE
            )
        if not typer.confirm(f"Erase every memory in namespace {namespace!r}?", err=True):
            raise fail("not confirmed; nothing was erased", EXIT_FAILURE)
    with cli.memory() as mem:
        count = mem.forget_namespace(namespace)
    audit.record(cli.settings.path, "forget_namespace", namespace)
    if cli.json:
        emit_json({"namespace": namespace, "forgotten": count})
    else:
        typer.echo(f"forgot {counted(count)} in {namespace!r}")


def verify_erasure(
    ctx: typer.Context,
    needle: Annotated[
        str,
        typer.Argument(
            metavar="TEXT_OR_ID",
            help="The text or memory id that must be gone.",
            show_default=False,
        ),
    ],
) -> None:
    """Scan every file of the store for TEXT_OR_ID; exit 1 and list the files holding it.

    The bytes on disk are read as they are (database, -wal, -shm, keys.db,
    audit.db); the store is not opened, so close writers first for a final answer.
    """
    cli = state(ctx)
    if not needle:
        raise fail("TEXT_OR_ID must not be empty", EXIT_USAGE)
    cli.sqlite_only(
        "verify-erasure scans a SQLite store's files; on PostgreSQL search pg_dump's "
        "output and the relation files after VACUUM FULL (docs/security.md)"
    )
    # no store is not "erased": a mistyped path would scan nothing and pass
    cli.require_store()
    files = store_files(cli.settings.path)
    found = where_found(files, [needle])
    if cli.json:
        emit_json({"found": bool(found), "files": [str(f) for f in found], "scanned": len(files)})
    elif found:
        for file in found:
            typer.echo(f"found in {file}")
    else:
        typer.echo(f"not found in any of {len(files)} files")
    if found:
        raise typer.Exit(EXIT_FAILURE)


def audit_log(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only entries at or after this ISO 8601 time.", show_default=False
        ),
    ] = None,
) -> None:
    """Show the audit log: who did what to which namespace and when (never content)."""
    cli = state(ctx)
    where = audit.audit_path(cli.settings.path)
    if where is None:
        raise fail(f"the store {cli.settings.path!r} has no audit log beside it", EXIT_USAGE)
    cli.require_store()
    after = parse_time(since, "--since")
    ns = cli.resolve_optional(namespace)
    if not is_postgres(where) and not Path(where).is_file():
        entries: list[audit.AuditRecord] = []
    else:
        log = audit.audit_table(where)
        try:
            entries = log.entries(namespace=ns, since=after)
        finally:
            log.close()
    if cli.json:
        emit_json(
            {
                "entries": [
                    {
                        "at": iso(e.at),
                        "actor": e.actor,
                        "action": e.action,
                        "namespace": e.namespace,
                        "target": e.target,
                        "status": e.status,
                        "count": e.count,
                    }
                    for e in entries
                ]
            }
        )
        return
    for e in entries:
        target = "" if e.target is None else f" {e.target}"
        where = "-" if e.namespace is None else e.namespace  # restore, a refused /mcp call
        count = "" if e.count is None else f" ({counted(e.count)})"
        status = "" if e.status == 0 else f" -> {e.status}"
        typer.echo(f"{iso(e.at)} {e.actor} {e.action} {where}{target}{count}{status}")
