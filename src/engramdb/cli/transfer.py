"""Moving memories in and out of a store: ``import`` and ``export``.

It owns the JSONL file format of the CLI (export records with their full
history, or plain items), format detection, batching and the progress bar.
LoCoMo parsing is ``engramdb.formats.locomo``'s; validation of each memory is
the facade's. An import reads and parses the whole file before it writes
anything, so a malformed line leaves the store untouched; after that, each
batch is one transaction. An import is recorded in the audit log, one entry per
namespace it wrote to, with the count (actor ``local``).

Memories are written without their vectors by default (``--embed later``,
docs/write-path.md): each is durable and found by its words once its batch
commits, and the command then waits for the background embedder, its progress
line showing both stages (written, embedded); ``--no-wait`` returns once every
memory is written, and the next process that opens the store for writing
embeds the rest.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from engramdb import InvalidInputError, Limits, Memory
from engramdb.cli.output import counted, emit_json
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.formats import chat, locomo, mcp_memory, mem0, table
from engramdb.formats.reading import Reading, jsonl_objects
from engramdb.options import ADD
from engramdb.security import audit
from engramdb.store.files import private_file
from engramdb.transfer import PROFILE_ENTRY
from engramdb.validation import check_namespace, check_new_memory

__all__ = ["BATCH", "ImportFormat", "Plan", "export", "import_", "plan_jsonl"]

#: Items per ``add_many`` call and export records per ``import_records`` batch
#: (one transaction each).
BATCH = 256
_PLAIN_KEYS = frozenset(
    {"text", "session", "speaker", "occurred_at", "metadata", "namespace", "idempotency_key"}
)


class ImportFormat(str, Enum):
    auto = "auto"
    jsonl = "jsonl"
    locomo = "locomo"
    # other tools' files (docs/integrations/importers.md)
    mem0 = "mem0"
    mcp_memory = "mcp-memory"
    openai_chat = "openai-chat"
    csv = "csv"


@dataclass
class Plan:
    """What an import will write: export records, and plain items per namespace; and
    what it read but will not write (another tool's records, each with why)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: Reading = field(default_factory=Reading)

    @property
    def total(self) -> int:
        return len(self.records) + sum(len(batch) for batch in self.items.values())


def plan_jsonl(lines: Sequence[str], source: str, namespace: str) -> Plan:
    """Sort a JSONL file into export records (they have ``versions``) and plain items.

    Plain items go to their own ``namespace`` field, else to ``namespace``.
    """
    plan = Plan()
    for number, value in jsonl_objects(lines, source):
        if "versions" in value:
            plan.records.append(value)
            continue
        unknown = set(value) - _PLAIN_KEYS
        if unknown:
            raise InvalidInputError(
                f"{source} line {number}: unknown keys {sorted(unknown)}; "
                f"allowed: {sorted(_PLAIN_KEYS)}"
            )
        item = {k: v for k, v in value.items() if k != "namespace"}
        when = item.get("occurred_at")
        if when is not None:
            if not isinstance(when, str):
                raise InvalidInputError(
                    f"{source} line {number}: occurred_at must be an ISO 8601 string"
                )
            try:
                item["occurred_at"] = parse_time(when, "occurred_at")
            except InvalidInputError as exc:
                raise InvalidInputError(f"{source} line {number}: {exc}") from None
        target = value.get("namespace", namespace)
        if not isinstance(target, str):
            raise InvalidInputError(f"{source} line {number}: namespace must be a string")
        plan.items.setdefault(target, []).append(item)
    return plan


def plan_locomo(path: Path, namespace: str | None, prefix: str) -> Plan:
    """One namespace per conversation (``prefix`` + sample_id), or all in ``namespace``."""
    plan = Plan()
    for conversation in locomo.load(path):
        target = namespace if namespace is not None else f"{prefix}{conversation.sample_id}"
        plan.items.setdefault(target, []).extend(dict(turn) for turn in conversation.turns)
    return plan


def plan_other(
    path: Path,
    text: str,
    chosen: ImportFormat,
    namespace: str | None,
    default: str,
    columns: list[str],
    limits: Limits,
) -> Plan:
    """Another tool's file (docs/integrations/importers.md) as a plan."""
    target = namespace or default
    jsonl = path.suffix.lower() == ".jsonl"
    if chosen is ImportFormat.mem0:
        reading = mem0.read(path, namespace, default)
    elif chosen is ImportFormat.mcp_memory:
        reading = mcp_memory.read(text, target)
    elif chosen is ImportFormat.openai_chat:
        reading = chat.read(text, path.name, target, jsonl=jsonl)
    else:
        rows = (
            table.csv_rows(text)
            if chosen is ImportFormat.csv
            else table.jsonl_rows(text, path.name)
        )
        reading = table.read(rows, table.parse_mapping(columns), target)
    now = datetime.now(timezone.utc)

    def check(target: str, item: dict[str, Any]) -> None:
        """What ``add_many`` checks of each item, so one bad record is skipped, not fatal."""
        check_namespace(target, limits)
        check_new_memory(limits, now, **item)

    return Plan(items=reading.items(check), skipped=reading)


def _detect(path: Path, head: str) -> ImportFormat:
    if path.suffix.lower() == ".jsonl":
        return ImportFormat.jsonl
    if path.suffix.lower() == ".csv":
        return ImportFormat.csv
    if path.suffix.lower() == ".json" or head.lstrip().startswith("["):
        return ImportFormat.locomo
    return ImportFormat.jsonl


def write_plan(
    mem: Memory,
    plan: Plan,
    progress: Any,
    counts: dict[str, int] | None = None,
    repeated: dict[str, int] | None = None,
    embed: str = "later",
) -> dict[str, int]:
    """Write a plan; returns how many memories went into each namespace.

    ``counts`` (returned) grows as each batch commits, so after a failed batch
    it still says what the earlier ones wrote. ``repeated`` counts, per namespace,
    the plain items the store held already (docs/repetition.md): a re-run import
    stores nothing twice.
    """
    counts = {} if counts is None else counts
    repeated = {} if repeated is None else repeated
    # Export records: embedded and written BATCH at a time (one transaction per
    # batch), not one embedding call per record (docs/reliability.md).
    for start in range(0, len(plan.records), BATCH):
        batch = plan.records[start : start + BATCH]
        mem.import_records(batch, batch_size=BATCH, embed=embed)
        for record in batch:
            if PROFILE_ENTRY not in record:  # a pinned entry's version is no memory
                counts[record["namespace"]] = counts.get(record["namespace"], 0) + 1
        progress.update(len(batch))
    for target, items in plan.items.items():
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            again = sum(e.repeated for e in mem.add_many(batch, namespace=target, embed=embed))
            counts[target] = counts.get(target, 0) + len(batch) - again
            if again:
                repeated[target] = repeated.get(target, 0) + again
            progress.update(len(batch))
    return counts


def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The file to import.",
            show_default=False,
        ),
    ],
    file_format: Annotated[
        ImportFormat,
        typer.Option(
            "--format",
            help="File format; auto: .json or a JSON list is LoCoMo, else JSONL. Other tools' "
            "files: mem0 (a get_all export or history.db), mcp-memory, openai-chat, csv "
            "(docs/integrations/importers.md).",
        ),
    ] = ImportFormat.auto,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="csv, or jsonl of any columns: the column of a memory's field (text, speaker, "
            "session, occurred_at, namespace, importance, emotion, idempotency_key); repeat it. "
            "Unnamed fields read the column of their own name; other columns become metadata.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Target namespace (JSONL items without one; every LoCoMo conversation). "
            "(default: the global --namespace, else default / each sample_id)",
            show_default=False,
        ),
    ] = None,
    namespace_prefix: Annotated[
        str,
        typer.Option(
            "--namespace-prefix", help="LoCoMo without --namespace: prefix for each sample_id."
        ),
    ] = "",
    embed: Annotated[
        str,
        typer.Option("--embed", metavar="now|later", help=ADD.help("embed").split(" Default")[0]),
    ] = "later",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait for every vector before returning; --no-wait returns once every memory "
            "is written (the next process that opens the store for writing embeds the rest).",
        ),
    ] = True,
) -> None:
    """Import memories from JSONL (export records or plain items), a LoCoMo file, or
    another tool's file (mem0, the MCP memory server, chat transcripts, CSV)."""
    cli = state(ctx)
    if file_format is ImportFormat.mem0:
        text = ""  # mem0.read reads the file itself: it may be a SQLite database
    else:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{file.name} is not UTF-8 text: {exc}") from None
    chosen = file_format if file_format is not ImportFormat.auto else _detect(file, text[:64])
    if columns and chosen not in (ImportFormat.csv, ImportFormat.jsonl):
        raise InvalidInputError("--map is for --format csv or jsonl")
    if chosen in _OTHERS or columns:
        given, default = cli.resolve_optional(namespace), cli.resolve(None)
        limits = cli.settings.limits
        plan = plan_other(file, text, chosen, given, default, columns or [], limits)
    elif chosen is ImportFormat.locomo:
        plan = plan_locomo(file, cli.resolve_optional(namespace), namespace_prefix)
    else:
        plan = plan_jsonl(text.splitlines(), file.name, cli.resolve(namespace))
    counts: dict[str, int] = {}
    repeated: dict[str, int] = {}
    try:
        # The writes first, with no embedding beside them (on a small machine it would
        # take the cores the writes need); then, unless --no-wait, a store opened
        # again starts the background embedder, and the command waits for it.
        writing = replace(cli.settings, background_embedder=False)
        with _progress(plan.total) as progress:
            with Memory(settings=writing) as mem:
                write_plan(mem, plan, progress, counts, repeated, embed)
            if wait:
                with Memory(settings=cli.settings) as mem:
                    _catch_up(mem, list(counts), progress)
    finally:
        # One audit entry per namespace written, also when a later batch failed:
        # each batch is its own transaction, so what committed stays.
        for target, count in counts.items():
            audit.record(cli.settings.path, "import", target, count=count)
    total = sum(counts.values())
    again = sum(repeated.values())
    skipped = plan.skipped.skipped
    if cli.json:
        emit_json(
            {
                "format": chosen.value,
                "imported": total,
                "namespaces": counts,
                "repeated": again,
                "skipped": [{"where": s.where, "reason": s.reason} for s in skipped],
            }
        )
    else:
        where = ", ".join(f"{ns} ({n})" for ns, n in counts.items() if n) or "nothing"
        held = f"; {again} already remembered (repetitions, no copy stored)" if again else ""
        typer.echo(f"imported {counted(total)}: {where}{held}")
        if skipped:
            why = ", ".join(f"{reason} ({n})" for reason, n in plan.skipped.reasons().items())
            typer.echo(f"skipped {len(skipped)}: {why}")


_OTHERS = (ImportFormat.mem0, ImportFormat.mcp_memory, ImportFormat.openai_chat, ImportFormat.csv)


def _catch_up(mem: Memory, namespaces: list[str], progress: Progress) -> None:
    """Wait for the background embedder (``Memory.flush``), showing its progress."""
    waiting: list[BaseException] = []

    def flush() -> None:
        try:
            mem.flush()
        except BaseException as exc:  # raised again in the command's thread
            waiting.append(exc)

    thread = threading.Thread(target=flush, name="engram-import-wait")
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        progress.pending(sum(mem.stats(namespace=ns).pending_vectors for ns in namespaces))
    if waiting:
        raise waiting[0]
    progress.pending(0)


class Progress:
    """Both stages of an import on one line of stderr, when stderr is a terminal (logs
    and pipes stay clean): memories written, and vectors embedded (docs/write-path.md)."""

    def __init__(self, total: int, shown: bool) -> None:
        self.total, self.shown = total, shown
        self.written = 0
        self.embedded: int | None = None
        self._drawn = 0.0

    def update(self, steps: int) -> None:
        self.written += steps
        self._draw()

    def pending(self, count: int) -> None:
        self.embedded = max(0, self.written - count)
        self._draw(force=count == 0)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.shown or (not force and now - self._drawn < 0.2):
            return
        self._drawn = now
        line = f"importing: written {self.written}/{self.total}"
        if self.embedded is not None:
            line += f", embedded {self.embedded}/{self.written}"
        sys.stderr.write(f"\r{line}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            self._draw(force=True)
            sys.stderr.write("\n")


@contextmanager
def _progress(total: int) -> Iterator[Progress]:
    progress = Progress(total, shown=sys.stderr.isatty())
    try:
        yield progress
    finally:
        progress.close()


def export(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            dir_okay=False,
            help="Write JSONL to this file. (default: stdout)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export memories with their full history as JSONL (all namespaces by default)."""
    cli = state(ctx)
    ns = cli.resolve_optional(namespace)
    with cli.existing_memory() as mem:
        if out is None:
            _write_records(mem, ns, sys.stdout)
            return
        # Write beside the target and rename, so a failed export never leaves half a file;
        # owner-only, like the store it copies (docs/security.md).
        partial = out.with_name(f".{out.name}.partial")
        try:
            partial.unlink(missing_ok=True)
            private_file(partial)
            with partial.open("w", encoding="utf-8") as stream:
                count = _write_records(mem, ns, stream)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    if cli.json:
        emit_json({"exported": count, "namespace": ns, "out": str(out)})
    else:
        typer.echo(f"exported {counted(count)} to {out}")


def _write_records(mem: Memory, namespace: str | None, stream: TextIO) -> int:
    count = 0
    for record in mem.export(namespace=namespace):
        stream.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        count += PROFILE_ENTRY not in record  # memories; the profile's versions go along
    stream.flush()
    return count
