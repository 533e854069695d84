"""The writer process that the crash harness kills (``engramdb.testing.crash``).

A writer opens a file store through the public ``Memory`` facade and writes to
it at random until it is killed. Around every write it appends to a log of its
own: an intent line before the call (``I``), an acknowledgement line after the
call returned (``A``), each written and fsync'd before it goes on. The log
therefore never claims a write that the store did not confirm, and at most one
write (the last intent) is in flight when the kill comes.

``OPERATIONS`` is the table of writes. It is the extension point for new kinds
of write: consolidation joins the crash test by adding an entry here and its
expected effect in ``engramdb.testing.crash.EFFECTS``.

``python -m engramdb.testing.crashwriter --serve`` runs a fork server: it
imports engramdb once, then forks a fresh writer for each request on stdin, so
a crash cycle costs milliseconds rather than an interpreter start. Each writer
is a separate process that opens the store itself; only the imports are shared.
Writers embed with ``HashEmbedder``: a crash test exercises the store and its
transactions, not the embedding model, and the fake keeps a cycle short.

It deliberately does not check anything: the harness does, after the kill.
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engramdb.config import EncryptionKey, Settings
from engramdb.memory import Memory
from engramdb.testing.fakes import HashEmbedder

__all__ = ["NAMESPACES", "OPERATIONS", "AckLog", "Writer", "serve", "write_forever"]

NAMESPACES = ("crash-a", "crash-b")
_WORDS = [
    "river",
    "lantern",
    "orchard",
    "violin",
    "harbour",
    "meadow",
    "copper",
    "saffron",
    "glacier",
    "ember",
    "compass",
    "willow",
    "falcon",
    "marble",
    "thistle",
    "canyon",
    "velvet",
    "beacon",
    "juniper",
    "quartz",
]


class AckLog:
    """Append-only intent/acknowledgement log, each line fsync'd before returning."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._seq = 0

    def intent(self, entry: dict[str, Any]) -> int:
        self._seq += 1
        self._line("I", self._seq, entry)
        return self._seq

    def ack(self, seq: int, entry: dict[str, Any]) -> None:
        self._line("A", seq, entry)

    def _line(self, kind: str, seq: int, entry: dict[str, Any]) -> None:
        data = f"{kind} {seq} {json.dumps(entry, sort_keys=True)}\n".encode()
        os.write(self._fd, data)
        os.fsync(self._fd)


@dataclass
class Writer:
    """Random writes through ``Memory``, mirrored in ``live`` (id -> (ns, text, version))."""

    mem: Memory
    log: AckLog
    rng: random.Random
    tag: str
    live: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    counter: int = 0

    def text(self) -> str:
        # a unique token per text lets the harness find each memory lexically
        self.counter += 1
        words = self.rng.choices(_WORDS, k=self.rng.randint(3, 20))
        return f"t{self.tag}x{self.counter} " + " ".join(words)

    def add(self) -> None:
        self._add(1)

    def add_many(self) -> None:
        self._add(self.rng.randint(2, 10))

    def _add(self, n: int) -> None:
        ns = self.rng.choice(NAMESPACES)
        texts = [self.text() for _ in range(n)]
        op = "add" if n == 1 else "add_many"
        seq = self.log.intent({"op": op, "ns": ns, "texts": texts})
        if n == 1:
            engrams = [self.mem.add(texts[0], namespace=ns, metadata={"seq": seq})]
        else:
            engrams = self.mem.add_many(
                [{"text": t, "metadata": {"seq": seq}} for t in texts], namespace=ns
            )
        self.log.ack(seq, {"ids": [e.id for e in engrams]})
        for engram in engrams:
            self.live[engram.id] = (ns, engram.text, 1)

    def update(self) -> None:
        if not self.live:
            self.add()
            return
        engram_id = self.rng.choice(sorted(self.live))
        ns, _, version = self.live[engram_id]
        text = self.text()
        seq = self.log.intent(
            {"op": "update", "ns": ns, "id": engram_id, "text": text, "version": version + 1}
        )
        updated = self.mem.update(engram_id, namespace=ns, text=text)
        self.log.ack(seq, {"version": updated.version})
        self.live[engram_id] = (ns, text, updated.version)

    def delete(self) -> None:
        if not self.live:
            self.add()
            return
        engram_id = self.rng.choice(sorted(self.live))
        ns = self.live[engram_id][0]
        seq = self.log.intent({"op": "delete", "ns": ns, "id": engram_id})
        self.mem.delete(engram_id, namespace=ns)
        self.log.ack(seq, {})
        del self.live[engram_id]

    def forget_namespace(self) -> None:
        ns = self.rng.choice(NAMESPACES)
        seq = self.log.intent({"op": "forget_namespace", "ns": ns})
        count = self.mem.forget_namespace(ns)
        self.log.ack(seq, {"count": count})
        self.live = {k: v for k, v in self.live.items() if v[0] != ns}

    def step(self) -> None:
        """One write, chosen so the store hovers around a few hundred memories."""
        size = len(self.live)
        weights = {name: weight for name, (weight, _) in OPERATIONS.items()}
        if size < 30:
            weights["delete"] = 0.2
        elif size > 300:
            weights["delete"] *= 3
        if size < 150:
            weights["forget_namespace"] = 0.0
        names = sorted(weights)
        name = self.rng.choices(names, weights=[weights[n] for n in names])[0]
        OPERATIONS[name][1](self)


#: name -> (relative weight, the write). New kinds of write (consolidation) go here.
OPERATIONS: dict[str, tuple[float, Callable[[Writer], None]]] = {
    "add": (3.0, Writer.add),
    "add_many": (2.0, Writer.add_many),
    "update": (3.0, Writer.update),
    "delete": (2.0, Writer.delete),
    "forget_namespace": (0.05, Writer.forget_namespace),
}


def write_forever(
    store: Path,
    log_path: Path,
    seed: int,
    tag: str,
    key: EncryptionKey | None = None,
    deferred: bool = False,
) -> None:
    """Open the store (encrypted with ``key`` if given), say ``ready <pid>`` on
    stdout, then write until killed. ``deferred``: adds leave their vectors to the
    background embedder (docs/write-path.md), which also resumes what an earlier
    writer left pending, so kills land during its catch-up too."""
    settings = Settings(encryption=key, embed="later" if deferred else "now")
    mem = Memory(str(store), embedder=HashEmbedder(), settings=settings)
    live = {e.id: (e.namespace, e.text, e.version) for e in mem.store.iter_engrams()}
    writer = Writer(mem, AckLog(log_path), random.Random(seed), tag, live)  # noqa: S311
    os.write(1, f"ready {os.getpid()}\n".encode())
    while True:
        writer.step()


def serve() -> None:
    """The fork server: one JSON request per stdin line, one reply line per event.

    ``{"cmd": "spawn", "store", "log", "seed", "tag", "key"}`` forks a writer and
    replies ``spawned <pid>`` (the writer itself later says ``ready <pid>``);
    ``{"cmd": "reap", "pid"}`` waits for a writer and replies
    ``reaped <pid> <wait status>``. End of input ends the server.
    """
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "spawn":
            pid = os.fork()
            if pid == 0:  # the writer: never returns into this loop
                code = 0
                try:
                    write_forever(
                        Path(request["store"]),
                        Path(request["log"]),
                        request["seed"],
                        request["tag"],
                        None if request.get("key") is None else EncryptionKey(**request["key"]),
                        bool(request.get("deferred", False)),
                    )
                except BaseException:  # the process edge: report and exit
                    traceback.print_exc()
                    sys.stderr.flush()
                    code = 3
                finally:
                    os._exit(code)
            os.write(1, f"spawned {pid}\n".encode())
        elif request["cmd"] == "reap":
            _, status = os.waitpid(int(request["pid"]), 0)
            os.write(1, f"reaped {request['pid']} {status}\n".encode())


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: python -m engramdb.testing.crashwriter --serve")
    serve()
