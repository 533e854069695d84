"""Background consolidation: the server turns new episodes into facts on its own.

``ConsolidationSchedule`` owns one daemon thread that, every ``every_s``
seconds (counted from the end of the previous pass), consolidates each
namespace with pending episodes, one namespace at a time: one thread, so never
two scheduled runs at once, and ``Memory.consolidate`` serialises them with the
HTTP route and the MCP tool too. Each run that consumed episodes is audited as
actor ``scheduler``; what the schedule did is kept in a ``ScheduleState`` for
``/metrics``. ``stop`` is prompt: the thread is woken from its wait, and a run
in progress ends after its current batch (each batch is one committed
transaction; the rest stays pending for the next start).

A failed run is logged (logger ``engramdb.server.schedule``) by namespace and
error class only, since an error's message may quote memory text; it is
counted, and its episodes stay pending, so the next pass tries again.

It deliberately knows nothing of HTTP or Prometheus: ``server.http.app``
starts and stops it with the app's lifespan and ``server.http.metrics`` reads
``state()``. Documented in ``docs/server.md``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from engramdb import Clock, ConsolidationReport, Memory, SystemClock
from engramdb.security.audit import AuditRecord

__all__ = ["SCHEDULER_ACTOR", "ConsolidationSchedule", "ScheduleState", "check_interval"]

#: The actor of the audit entries of scheduled runs.
SCHEDULER_ACTOR = "scheduler"
_THREAD_NAME = "engramdb-consolidate"

_log = logging.getLogger(__name__)


def check_interval(every_s: float, what: str = "consolidation") -> float:
    """``every_s`` when it is 0 (off) or a positive, finite number of seconds."""
    if isinstance(every_s, bool) or not math.isfinite(every_s) or every_s < 0:
        raise ValueError(
            f"the {what} interval must be 0 (off) or a positive number of seconds, not {every_s!r}"
        )
    return float(every_s)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the schedule has done since it was built.

    A *pass* looks at every namespace; a *run* consolidates one namespace with
    pending episodes (one ``Memory.consolidate``). ``failures`` counts runs (or
    passes that could not list the namespaces) that raised; ``episodes``,
    ``facts`` and ``summaries`` add up what runs wrote; ``last_run_at`` is when
    the latest successful run ended (None before the first).
    """

    every_s: float
    passes: int = 0
    runs: int = 0
    failures: int = 0
    episodes: int = 0
    facts: int = 0
    summaries: int = 0
    last_run_at: datetime | None = None


class _Stopped(Exception):
    """Raised from the progress callback to end a run at a batch boundary."""


class ConsolidationSchedule:
    """Consolidate every namespace with pending episodes every ``every_s`` seconds.

    ``audit`` receives one entry per run that consumed episodes (the app's
    audit log, when it has one). ``start`` and ``stop`` are called once each,
    by the app's lifespan; ``run_pending`` is one pass, run by the thread.
    """

    def __init__(
        self,
        memory: Memory,
        every_s: float,
        *,
        audit: Callable[[AuditRecord], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if check_interval(every_s) == 0:
            raise ValueError("a consolidation schedule needs an interval above 0 seconds")
        self.memory = memory
        self.every_s = float(every_s)
        self._audit = audit
        self._clock = clock or SystemClock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = ScheduleState(every_s=self.every_s)

    def state(self) -> ScheduleState:
        with self._lock:
            return self._state

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the consolidation schedule is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=_THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Wake the thread and wait for it: a run in progress ends after its batch."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():  # a batch stuck on a slow extractor; daemon, so no hang at exit
            _log.warning("background consolidation did not stop within %.0f s", timeout_s)

    def _loop(self) -> None:
        while not self._stopping.wait(self.every_s):
            self.run_pending()

    def run_pending(self) -> list[ConsolidationReport]:
        """One pass: consolidate each namespace with pending episodes, in name order."""
        reports: list[ConsolidationReport] = []
        try:
            namespaces = [
                name
                for name in self.memory.namespaces()
                if self.memory.store.pending_count(name) > 0
            ]
        # The thread is a process edge: nothing above it would see an error, and an
        # escaped one would end background consolidation for the server's lifetime.
        # Carrying on loses nothing: each batch is one transaction, a failed run's
        # episodes stay pending, and the failure is counted on /metrics.
        except Exception as exc:
            self._failed(None, exc)
            return reports
        for namespace in namespaces:
            if self._stopping.is_set():
                break
            try:
                report = self._run(namespace)
            except Exception as exc:  # a process edge, as above
                self._failed(namespace, exc)
                continue
            if report is not None:
                reports.append(report)
        with self._lock:
            self._state = replace(self._state, passes=self._state.passes + 1)
        return reports

    def _run(self, namespace: str) -> ConsolidationReport | None:
        """One namespace; None when cut short by ``stop``. Counts and audits what it wrote."""
        done = 0

        def step(count: int, total: int) -> None:
            nonlocal done
            done = count
            if self._stopping.is_set():
                raise _Stopped

        try:
            report = self.memory.consolidate(namespace=namespace, progress=step)
        except BaseException as exc:
            # The batches before the error (or before ``stop``) were committed: they
            # are counted and audited, without a count of what they wrote (no report).
            self._count(episodes=done)
            self._audit_run(namespace, episodes=done, count=None)
            if isinstance(exc, _Stopped):
                return None
            raise
        self._count(
            episodes=report.episodes,
            runs=1,
            facts=report.facts,
            summaries=report.summaries,
            last_run_at=self._clock.now(),
        )
        self._audit_run(namespace, episodes=report.episodes, count=report.facts + report.summaries)
        if report.episodes:
            _log.info(
                "consolidated %d episodes of namespace %r: %d facts, %d summaries in %.2f s",
                report.episodes,
                namespace,
                report.facts,
                report.summaries,
                report.seconds,
            )
        return report

    def _count(
        self,
        *,
        episodes: int,
        runs: int = 0,
        facts: int = 0,
        summaries: int = 0,
        last_run_at: datetime | None = None,
    ) -> None:
        with self._lock:
            state = self._state
            self._state = replace(
                state,
                runs=state.runs + runs,
                episodes=state.episodes + episodes,
                facts=state.facts + facts,
                summaries=state.summaries + summaries,
                last_run_at=last_run_at or state.last_run_at,
            )

    def _audit_run(self, namespace: str, *, episodes: int, count: int | None) -> None:
        """One audit entry per run that consumed episodes (none for an empty run)."""
        if episodes and self._audit is not None:
            self._audit(
                AuditRecord(
                    at=self._clock.now(),
                    actor=SCHEDULER_ACTOR,
                    action="consolidate",
                    namespace=namespace,
                    count=count,
                )
            )

    def _failed(self, namespace: str | None, exc: Exception) -> None:
        with self._lock:
            self._state = replace(self._state, failures=self._state.failures + 1)
        # The class only: a message may quote memory text (an extractor's reply, say).
        where = "listing namespaces" if namespace is None else f"namespace {namespace!r}"
        _log.error(
            "background consolidation failed (%s): %s; it is retried on the next pass",
            where,
            type(exc).__name__,
        )
