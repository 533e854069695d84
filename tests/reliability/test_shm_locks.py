"""A second open of a store in one process keeps the first one's SQLite locks
(store.sqlite.database: the -wal/-shm check before an open reads the -shm, and
closing any descriptor of it drops this process's POSIX locks on it; another
process opening the store then takes the -shm as unused and truncates it under
this one's mapping of it, which killed writers with SIGBUS)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# SQLite's "dead man switch": every connection of a WAL store holds a shared lock on
# this byte of the -shm (wal.c / os_unix.c: UNIX_SHM_BASE 120 + SQLITE_SHM_NLOCK 8)
PROBE = textwrap.dedent(
    """
    import fcntl, sys
    with open(sys.argv[1], "r+b") as shm:
        try:
            fcntl.lockf(shm, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
        except OSError:
            print("held")
        else:
            print("free")
    """
)

SCRIPT = textwrap.dedent(
    """
    import subprocess, sys
    from engramdb import Memory
    from engramdb.testing.fakes import HashEmbedder

    path, probe = sys.argv[1], sys.argv[2]
    first = Memory(path, embedder=HashEmbedder())
    first.add("the lighthouse keeper waved", namespace="ns")
    shm = path + "/engram.db-shm"

    def seen():
        return subprocess.run(
            [sys.executable, "-c", probe, shm], capture_output=True, text=True, check=True
        ).stdout.strip()

    before = seen()
    second = Memory(path, embedder=HashEmbedder())  # the same store, once more
    during = seen()
    second.close()
    print(before, during, seen())
    first.close()
    """
)


def test_a_second_open_in_one_process_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "store"), PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # before the fix: "held free free" (the second open dropped the first one's lock)
    assert done.stdout.split() == ["held", "held", "held"]
