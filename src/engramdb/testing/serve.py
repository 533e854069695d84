"""A real ``engram serve`` process for tests and benchmarks: start it, wait for its URL, stop it.

``ServeProcess.start(args, env=...)`` runs ``python -m engramdb *args`` (the args name the
store, ``serve`` and its flags; ``--port 0`` lets the system pick a free port) with
stderr piped. A reader thread takes every line the server writes on stderr from
the start, so the server never blocks on a full pipe, and keeps them: ``said()``.
``url(timeout_s)`` waits for the ``engram: serving URL`` line, then for ``/healthz``
to answer 200 (the socket is bound before the line is written, the app's startup
may still be running), and returns the URL; a server that exits or stays silent
that long is killed and the wait fails with everything it said. ``stop()``
terminates it and returns all it wrote. Starting several before waiting on any
lets them load the model side by side.

Used by the fixtures of ``tests/server`` and ``tests/ui``,
``tests/postgres/test_surfaces.py``, ``bench/servers.py`` and
``bench/http_search.py``. Standard library only, so it needs no extra.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO

__all__ = ["ENGRAM", "ServeProcess"]

#: The ``engram`` command of this interpreter.
ENGRAM = (sys.executable, "-m", "engramdb")
_SERVING = re.compile(r"serving (http://\S+)")
_HEALTHZ_TRIES = 100  # 0.1 s apart, each waiting up to 2 s
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


class ServeProcess:
    """One ``engram serve`` process; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        if process.stderr is None:
            raise ValueError("start the process with stderr=subprocess.PIPE")
        self.process = process
        self._lines: list[str] = []
        self._url: str | None = None
        self._arrived: queue.Queue[str | None] = queue.Queue()  # None: stderr closed
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> ServeProcess:
        """Start ``python -m engramdb *args``, unbuffered; ``env`` replaces ``os.environ``."""
        return cls(
            subprocess.Popen(  # noqa: S603 - engramdb's own command
                [*ENGRAM, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
            )
        )

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.append(line)
            self._arrived.put(line)
        self._arrived.put(None)

    def url(self, timeout_s: float = 90.0) -> str:
        """The URL the server serves on, once ``/healthz`` answers there."""
        if self._url is not None:
            return self._url
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._arrived.get(timeout=left)
            except queue.Empty:
                break
            if line is None:  # the server exited
                break
            found = _SERVING.search(line)
            if found and _healthy(found.group(1)):
                self._url = found.group(1)
                return self._url
        self.process.kill()
        self.process.wait()
        self._reader.join(timeout=5)
        raise AssertionError("engram serve did not start:\n" + self.said())

    def said(self) -> str:
        """Everything the server has written on stderr so far."""
        return "".join(self._lines)

    def stop(self, timeout_s: float = 20.0) -> str:
        """Terminate the server (kill it if it does not exit in ``timeout_s``); all it said."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:  # a hung shutdown
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        return self.said()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _healthy(url: str) -> bool:
    for _ in range(_HEALTHZ_TRIES):
        try:
            with _LOOPBACK.open(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False
