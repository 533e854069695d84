"""Background purge: the server erases expired memories on its own (docs/expiry.md).

``PurgeSchedule`` owns one daemon thread that, every ``every_s`` seconds
(``Settings.purge_every_s``, counted from the end of the previous pass), runs
``Memory.purge`` over every namespace: one transaction per namespace with
something expired, the files scrubbed as after any erasure. Each namespace
purged is audited as actor ``scheduler`` with the count erased. ``stop`` is
prompt: the thread is woken from its wait.

A failed pass is logged (logger ``engramdb.server.purging``) by error class only,
since an error's message may quote memory text, and counted; what it could not
erase stays expired (left out of every read) and the next pass tries again.
After each pass the thread hands the allocator's free memory back to the
operating system (``bounded.release_free_memory``: docs/limits.md, "Caches").
Started and stopped by ``server.http.app`` with the app's lifespan.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from engramdb import Clock, Deletion, Memory, SystemClock
from engramdb.bounded import release_free_memory
from engramdb.security.audit import AuditRecord
from engramdb.server.schedule import SCHEDULER_ACTOR

__all__ = ["PurgeSchedule"]

_THREAD_NAME = "engramdb-purge"
_log = logging.getLogger(__name__)


class PurgeSchedule:
    """Purge every namespace's expired memories every ``every_s`` seconds.

    ``audit`` receives one entry per namespace purged; ``passes``, ``purged`` and
    ``failures`` count what the schedule did since it was built.
    """

    def __init__(
        self,
        memory: Memory,
        every_s: float,
        *,
        audit: Callable[[AuditRecord], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not every_s > 0:
            raise ValueError("a purge schedule needs an interval above 0 seconds")
        self.memory = memory
        self.every_s = float(every_s)
        self._audit = audit
        self._clock = clock or SystemClock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._holders = 0  # lifespans running it: an app may be started more than once
        self._lock = threading.Lock()
        self.passes = 0
        self.purged = 0
        self.failures = 0

    def start(self) -> None:
        with self._lock:
            self._holders += 1
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name=_THREAD_NAME, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Wake the thread and wait for it, once the last lifespan that started it ends."""
        with self._lock:
            self._holders = max(self._holders - 1, 0)
            if self._holders:
                return
            self._stopping.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stopping.wait(self.every_s):
            self.run_once()
            # the server's periodic upkeep: what the last minute's requests freed goes
            # back to the operating system, so resident memory follows the live data
            release_free_memory()

    def run_once(self) -> list[Deletion]:
        """One pass over every namespace; what each namespace purged erased."""
        try:
            done = self.memory.purge()
        # The thread is a process edge: an escaped error would end the purge for the
        # server's lifetime. Carrying on loses nothing: each namespace's purge is one
        # transaction, and what stays expired is still left out of every read.
        except Exception as exc:
            self.failures += 1
            _log.error(
                "background purge failed: %s; it is retried on the next pass",
                type(exc).__name__,
            )
            return []
        self.passes += 1
        for deletion in done:
            self.purged += deletion.count
            if self._audit is not None:
                self._audit(
                    AuditRecord(
                        at=self._clock.now(),
                        actor=SCHEDULER_ACTOR,
                        action="purge",
                        namespace=deletion.namespace,
                        count=deletion.count,
                    )
                )
        return done
