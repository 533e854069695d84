"""The crash harness: kill a writer with SIGKILL at random moments, then audit the store.

Each cycle forks a writer (``engramdb.testing.crashwriter``) on one file
store, lets it write for a random moment (or kills it while it is still
opening the store), kills it with SIGKILL, and then checks what a crash must
never break:

- the store opens, and ``check()`` is clean: ``PRAGMA integrity_check``,
  FTS5's index check, no orphans or partial writes (a memory without its
  vector, lexical row or current version; a version, vector or lexical row
  without its memory), per-namespace index counts;
- every acknowledged write is there with the acknowledged content and version,
  and every acknowledged delete is gone;
- the one write in flight at the kill (an intent without an acknowledgement)
  happened entirely or not at all (an ``add_many`` batch is all there or absent);
- memories are findable: a sample is looked up by their unique word (lexical
  index) and their vector (vector index; not while a deferred write's vector is
  pending), and their history ends at the current version.

``deferred=True`` runs the writers with ``embed="later"`` (docs/write-path.md):
kills land while the background embedder catches up too, and after the last
cycle the store is opened once more, the embedder left to finish, and every
memory must have its vector and be found by it.

``tests/reliability/test_crash.py`` runs a bounded number of cycles in CI and
``bench/crash.py`` runs 1,000 and reports. It deliberately knows nothing of
how the store writes: it only sees what the writer was told and what a fresh
``SqliteStore`` reads back.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engramdb.config import EncryptionKey, Settings
from engramdb.memory import Memory
from engramdb.recall.indexing import embedding_text
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder

__all__ = ["EFFECTS", "CrashReport", "Model", "read_log", "run_crash_cycles"]

#: What the harness believes is stored: id -> (namespace, text, version).
Model = dict[str, tuple[str, str, int]]


@dataclass(frozen=True, slots=True)
class _Diff:
    """How the store differs from the model: ids missing, extra, or with other content."""

    missing: set[str]
    extra: set[str]
    changed: set[str]

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.changed)


def _apply_add(model: Model, intent: Mapping[str, Any], ack: Mapping[str, Any]) -> None:
    for engram_id, text in zip(ack["ids"], intent["texts"], strict=True):
        model[engram_id] = (intent["ns"], text, 1)


def _apply_update(model: Model, intent: Mapping[str, Any], ack: Mapping[str, Any]) -> None:
    model[intent["id"]] = (intent["ns"], intent["text"], int(ack["version"]))


def _apply_delete(model: Model, intent: Mapping[str, Any], ack: Mapping[str, Any]) -> None:
    del model[intent["id"]]


def _apply_forget(model: Model, intent: Mapping[str, Any], ack: Mapping[str, Any]) -> None:
    for engram_id in [k for k, v in model.items() if v[0] == intent["ns"]]:
        del model[engram_id]


def _explains_add(intent: Mapping[str, Any], model: Model, seen: Model, diff: _Diff) -> bool:
    # all of the batch or none of it: never a part
    found = sorted(seen[k][1] for k in diff.extra)
    return (
        not diff.missing
        and not diff.changed
        and found == sorted(intent["texts"])
        and all(seen[k][0] == intent["ns"] and seen[k][2] == 1 for k in diff.extra)
    )


def _explains_update(intent: Mapping[str, Any], model: Model, seen: Model, diff: _Diff) -> bool:
    return (
        not diff.missing
        and not diff.extra
        and diff.changed == {intent["id"]}
        and seen[intent["id"]] == (intent["ns"], intent["text"], int(intent["version"]))
    )


def _explains_delete(intent: Mapping[str, Any], model: Model, seen: Model, diff: _Diff) -> bool:
    return not diff.extra and not diff.changed and diff.missing == {intent["id"]}


def _explains_forget(intent: Mapping[str, Any], model: Model, seen: Model, diff: _Diff) -> bool:
    gone = {k for k, v in model.items() if v[0] == intent["ns"]}
    return not diff.extra and not diff.changed and diff.missing == gone


#: op -> (apply an acknowledged write to the model, does it explain a difference
#: as the in-flight write done whole?). A new kind of write in
#: ``crashwriter.OPERATIONS`` (consolidation) adds its entry here.
EFFECTS: dict[
    str,
    tuple[
        Callable[[Model, Mapping[str, Any], Mapping[str, Any]], None],
        Callable[[Mapping[str, Any], Model, Model, _Diff], bool],
    ],
] = {
    "add": (_apply_add, _explains_add),
    "add_many": (_apply_add, _explains_add),
    "update": (_apply_update, _explains_update),
    "delete": (_apply_delete, _explains_delete),
    "forget_namespace": (_apply_forget, _explains_forget),
}


@dataclass(frozen=True, slots=True)
class CrashReport:
    """What a run of crash cycles saw. ``lost`` counts acknowledged writes not found."""

    cycles: int
    acknowledged: int
    lost: int
    in_flight_applied: int
    in_flight_discarded: int
    early_kills: int
    memories: int
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.lost == 0 and not self.problems


@dataclass
class _Totals:
    acknowledged: int = 0
    lost: int = 0
    applied: int = 0
    discarded: int = 0
    early: int = 0
    problems: list[str] = field(default_factory=list)


def read_log(
    path: Path,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any] | None]:
    """The acknowledged writes (intent, ack) in order, and the intent still in flight.

    A torn last line (the kill came inside ``write``) is ignored: it was not
    fsync'd, so nothing was promised by it.
    """
    if not path.exists():
        return [], None
    intents: dict[int, dict[str, Any]] = {}
    done: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        kind, seq_text, payload = line.rstrip("\n").split(" ", 2)
        entry = json.loads(payload)
        seq = int(seq_text)
        if kind == "I":
            intents[seq] = entry
        else:
            done.append((intents.pop(seq), entry))
    if len(intents) > 1:
        raise AssertionError(f"more than one write in flight: {sorted(intents)}")
    return done, next(iter(intents.values()), None)


class _ForkServer:
    """The writer fork server process and a line reader over its stdout."""

    def __init__(self, stderr: IO[bytes]) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engramdb.testing.crashwriter", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        self._buffer = b""
        self._lines: list[str] = []

    def request(self, **fields: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(fields) + "\n").encode())
        self.proc.stdin.flush()

    def expect(self, word: str, pid: int | None, timeout_s: float) -> list[str] | None:
        """The next line ``word <pid> ...`` (any pid if None), or None after the timeout."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            for i, line in enumerate(self._lines):
                parts = line.split()
                if parts[0] == word and (pid is None or int(parts[1]) == pid):
                    del self._lines[i]
                    return parts
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self.proc.stdout], [], [], left)
            if not readable:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("the crash writer fork server exited")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\n")
            self._lines.extend(c.decode() for c in complete if c)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def run_crash_cycles(
    workdir: Path,
    cycles: int,
    *,
    seed: int = 0,
    max_run_s: float = 0.15,
    early_kill_fraction: float = 0.1,
    sample: int = 8,
    key: EncryptionKey | None = None,
    deferred: bool = False,
) -> CrashReport:
    """Run ``cycles`` kill-and-audit cycles on a store in ``workdir``; stops at a problem.

    With ``key`` the store is encrypted (docs/security.md): every write seals, every
    audit opens with the key, and a torn write would show as a DecryptionError.
    ``deferred``: the writers leave vectors to the background embedder (module
    docstring), and the run ends with its catch-up audited.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    store_path = workdir / "store"
    rng = random.Random(seed)  # noqa: S311 - test schedule, not security
    # The audit's samples draw from their own generator: how many memories a cycle
    # wrote depends on timing, and must not shift the kill schedule of ``seed``.
    sampler = random.Random(seed + 1)  # noqa: S311
    embedder = HashEmbedder()
    model: Model = {}
    totals = _Totals()
    started = time.perf_counter()
    done_cycles = 0
    with (workdir / "writer-stderr.log").open("wb") as stderr:
        server = _ForkServer(stderr)
        try:
            for cycle in range(cycles):
                log_path = workdir / f"acks-{cycle}.log"
                problem = _one_cycle(
                    server,
                    store_path,
                    log_path,
                    cycle,
                    rng,
                    max_run_s,
                    early_kill_fraction,
                    totals,
                    key,
                    deferred,
                )
                if problem is None:
                    done, in_flight = read_log(log_path)
                    problem = _audit(
                        store_path, model, done, in_flight, totals, sampler, sample, embedder, key
                    )
                done_cycles = cycle + 1
                if problem is not None:
                    tail = (workdir / "writer-stderr.log").read_text(errors="replace")[-2000:]
                    totals.problems.append(
                        f"cycle {cycle}: {problem}"
                        + (f"\nwriter stderr:\n{tail}" if tail.strip() else "")
                    )
                    break
                log_path.unlink(missing_ok=True)
            if deferred and not totals.problems:
                problem = _audit_catch_up(store_path, model, key)
                if problem is not None:
                    totals.problems.append(f"after the catch-up: {problem}")
        finally:
            server.close()
    return CrashReport(
        cycles=done_cycles,
        acknowledged=totals.acknowledged,
        lost=totals.lost,
        in_flight_applied=totals.applied,
        in_flight_discarded=totals.discarded,
        early_kills=totals.early,
        memories=len(model),
        seconds=time.perf_counter() - started,
        problems=tuple(totals.problems),
    )


def _one_cycle(
    server: _ForkServer,
    store_path: Path,
    log_path: Path,
    cycle: int,
    rng: random.Random,
    max_run_s: float,
    early_kill_fraction: float,
    totals: _Totals,
    key: EncryptionKey | None = None,
    deferred: bool = False,
) -> str | None:
    """Fork a writer, kill it at a random moment; a problem, or None."""
    server.request(
        cmd="spawn",
        store=str(store_path),
        log=str(log_path),
        seed=rng.getrandbits(32),
        tag=str(cycle),
        key=None if key is None else {"kind": key.kind, "secret": key.secret},
        deferred=deferred,
    )
    spawned = server.expect("spawned", None, 30)
    if spawned is None:
        return "the fork server did not start a writer"
    pid = int(spawned[1])
    if rng.random() < early_kill_fraction:
        totals.early += 1  # kill it while it opens the store (recovery, migrations)
        time.sleep(rng.uniform(0, 0.02))
    elif server.expect("ready", pid, 30) is None:
        os.kill(pid, signal.SIGKILL)
        server.request(cmd="reap", pid=pid)
        server.expect("reaped", pid, 30)
        return "the writer did not get ready within 30 s"
    else:
        time.sleep(rng.uniform(0, max_run_s))
    os.kill(pid, signal.SIGKILL)
    server.request(cmd="reap", pid=pid)
    reaped = server.expect("reaped", pid, 30)
    if reaped is None:
        return "the killed writer was not reaped"
    status = int(reaped[2])
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        return f"the writer ended on its own (wait status {status}) before the kill"
    return None


def _audit(
    store_path: Path,
    model: Model,
    done: list[tuple[dict[str, Any], dict[str, Any]]],
    in_flight: dict[str, Any] | None,
    totals: _Totals,
    rng: random.Random,
    sample: int,
    embedder: HashEmbedder,
    key: EncryptionKey | None = None,
) -> str | None:
    """Open the store after a kill and compare it with the acknowledged writes."""
    for intent, ack in done:
        EFFECTS[intent["op"]][0](model, intent, ack)
    totals.acknowledged += len(done)
    store = SqliteStore(store_path, encryption=key)
    try:
        problems = store.check()
        if problems:
            return "check() found: " + "; ".join(problems)
        seen: Model = {e.id: (e.namespace, e.text, e.version) for e in store.iter_engrams()}
        diff = _Diff(
            missing=set(model) - set(seen),
            extra=set(seen) - set(model),
            changed={k for k in set(model) & set(seen) if model[k] != seen[k]},
        )
        if not diff:
            totals.discarded += in_flight is not None
        elif in_flight is not None and EFFECTS[in_flight["op"]][1](in_flight, model, seen, diff):
            totals.applied += 1
        else:
            totals.lost += len(diff.missing) + len(diff.changed)
            return (
                f"store differs from the acknowledged writes (in flight: {in_flight}): "
                f"missing {sorted(diff.missing)[:5]}, changed {sorted(diff.changed)[:5]}, "
                f"unexplained {sorted(diff.extra)[:5]}"
            )
        model.clear()
        model.update(seen)
        return _audit_indexes(store, model, rng, sample, embedder)
    finally:
        store.close()


def _audit_indexes(
    store: SqliteStore, model: Model, rng: random.Random, sample: int, embedder: HashEmbedder
) -> str | None:
    """A sample of memories is findable through both indexes (the vector index once
    the vector arrived), with a whole history."""
    pending = {p.engram.id for p in store.pending_vectors(len(model) + 1)}
    for engram_id in rng.sample(sorted(model), min(sample, len(model))):
        ns, text, version = model[engram_id]
        token = text.split()[0]
        if engram_id not in [c.id for c in store.lexical_search(ns, [token], 5)]:
            return f"{engram_id} is not found by its word {token!r}"
        vector = embedder.embed([embedding_text(text, None)])[0]
        found = [c.id for c in store.vector_search(ns, vector, 3)]
        if engram_id not in pending and engram_id not in found:
            return f"{engram_id} is not found by its vector"
        history = store.history(ns, engram_id)
        if [v.version for v in history] != list(range(1, version + 1)):
            return f"{engram_id} has versions {[v.version for v in history]}, expected 1..{version}"
        if history[-1].text != text or history[-1].valid_to is not None:
            return f"{engram_id}'s last version is not its current text"
    return None


def _audit_catch_up(store_path: Path, model: Model, key: EncryptionKey | None) -> str | None:
    """Open the store as a writer would after the last kill, let the background embedder
    finish (``flush``), then every memory has its vector and is found by it."""
    embedder = HashEmbedder()
    with Memory(str(store_path), embedder=embedder, settings=Settings(encryption=key)) as mem:
        mem.flush()
        left = mem.store.pending_vectors(1)
        if left:
            return f"{left[0].engram.id} is still without its vector"
        problems = mem.check()
        if problems:
            return "check() found: " + "; ".join(problems)
        for engram_id, (ns, text, _) in sorted(model.items()):
            vector = embedder.embed([embedding_text(text, None)])[0]
            if engram_id not in [c.id for c in mem.store.vector_search(ns, vector, 3)]:
                return f"{engram_id} is not found by its vector"
    return None
