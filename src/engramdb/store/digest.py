"""The encoding a row's checksum is computed over, the same in every backend.

A row's values, each with its type and length, under its table's name, so no
two rows encode alike; the namespace's cipher digests it (``Cipher.checksum``:
an unkeyed BLAKE2b in a plaintext store, a keyed one under a key derived from the
namespace's data key in an encrypted store, docs/security.md). The SQLite store's
row checksums (``store.sqlite.checksums``) and the PostgreSQL store's row MACs
(``store.postgres.macs``) both use it; which columns a row's digest covers is the
backend's.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["encoded"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def encoded(table: bytes, values: Iterable[Any]) -> bytes:
    """The row's values with their types and lengths: no two rows encode alike. A time
    (PostgreSQL's ``timestamptz``) enters as its microseconds since the epoch, UTC."""
    parts = [table]
    for value in values:
        if value is None:
            parts.append(b"\x00")
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts += (b"\x01%d:" % len(data), data)
        elif isinstance(value, bytes):
            parts += (b"\x02%d:" % len(value), value)
        elif isinstance(value, bool):
            parts.append(b"\x06%d;" % value)
        elif isinstance(value, int):
            parts.append(b"\x03%d;" % value)
        elif isinstance(value, float):
            parts.append(b"\x04" + struct.pack("<d", value))
        elif isinstance(value, datetime) and value.tzinfo is not None:
            parts.append(b"\x05%d;" % ((value - _EPOCH) // _MICROSECOND))
        else:
            raise TypeError(f"no checksum of a {type(value).__name__}")
    return b"".join(parts)
