"""The saved vector index of one namespace: a file beside the store (docs/security.md).

It owns the file's form and nothing else: where it lies (``<database>.ann-``
and a digest of the namespace, so ``security.erasure.store_files`` counts it
among the store's files), writing it whole or not at all (a private 0600
scratch file renamed over the old one), and reading it back only when it is
intact. When a file is saved, loaded or thrown away is ``cache.py``'s.

Form (version 2): the body, then a JSON header, its length (4 bytes) and a
magic line at the very end. The header says what the file covers (the
namespace's generation, the position in the ``vector_changes`` log, the log's
epoch, the dimensions; never the namespace's name, only its digest). The body is
the graph's own form (``store/graph.py``), last so that the graph can write it
straight to the file and a plaintext store can search it where it lies,
memory-mapped, instead of reading a million vectors into memory. The associated
data ``vector-index:<namespace>:<generation>:<born>:<position>:<epoch>`` binds
the body to what the header claims: in an encrypted store the body is sealed
with the namespace's data key under it (AES-GCM, so no vector and no graph page
is on disk in the clear; such a body is opened into memory), in a plaintext
store a SHA-256 over it and the body is checked, read from the file in blocks
(not through the mapping: that would make every page resident), before the
graph reads it (a damaged graph could crash it).

Version 1 files (hnswlib graphs of float32 vectors, header first) are not
read: ``read`` answers None and the namespace's index is rebuilt once.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engramdb.errors import IntegrityError
from engramdb.security.crypto import Cipher
from engramdb.store.files import private_file

__all__ = ["Covered", "Saved", "path_of", "paths", "read", "write"]

MAGIC = b"\nengramdb vector index 2\n"
OLDER_MAGIC = b"engramdb vector index 1\n"  # the hnswlib form, header first
_LENGTH = struct.Struct(">I")
_BLOCK = 1 << 20  # bytes hashed at a time
SUFFIX = ".ann-"


@dataclass(frozen=True)
class Covered:
    """What a saved index reflects: the namespace at ``generation`` (its row made
    at ``born``), and every change in the ``vector_changes`` log up to
    ``position`` (log ``epoch``)."""

    generation: int
    born: int
    position: int
    epoch: int


@dataclass(frozen=True)
class Saved:
    """A saved index read back: what it covers and the graph's form, a read-only
    memory map of the file (``mapped``: the graph may be searched in it) or the
    opened bytes of a sealed body."""

    covered: Covered
    form: memoryview
    mapped: bool


def path_of(database: str, namespace: str) -> Path:
    return Path(f"{database}{SUFFIX}{_digest(namespace)[:32]}")


def paths(database: str) -> list[Path]:
    """Every saved index (and scratch file left by a crash) of the store at ``database``."""
    folder = Path(database).parent
    stem = Path(database).name + SUFFIX
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir() if f.name.startswith(stem) and f.is_file())


def write(
    path: Path,
    namespace: str,
    covered: Covered,
    dims: int,
    cipher: Cipher,
    *,
    form: Callable[[], bytes | bytearray],
    save: Callable[[Path], None],
) -> None:
    """Replace the file at ``path`` in one rename (never half a file). A plaintext
    body is written by ``save(scratch)`` (the graph writes itself to the file); a
    sealed one is ``form()`` sealed."""
    aad = _aad(namespace, covered)
    header: dict[str, object] = {
        "namespace": _digest(namespace),
        "generation": covered.generation,
        "born": covered.born,
        "position": covered.position,
        "epoch": covered.epoch,
        "dims": dims,
        "graph": "usearch",
        "sealed": cipher.encrypted,
    }
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    private_file(scratch, exclusive=True)
    try:
        if cipher.encrypted:
            with scratch.open("r+b") as out:
                out.write(cipher.seal_bytes(bytes(form()), aad))
        else:
            save(scratch)
        with scratch.open("r+b") as out:
            size = out.seek(0, os.SEEK_END)
            header["body"] = size
            if not cipher.encrypted:
                header["sha256"] = _hashed(out, aad, size)
            head = json.dumps(header).encode()
            out.seek(size)
            out.write(head + _LENGTH.pack(len(head)) + MAGIC)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def read(path: Path, namespace: str, cipher: Cipher) -> Saved | None:
    """The index saved at ``path``, or None when it is in the form of an earlier
    version; ``IntegrityError`` when it is not intact, not this namespace's, or sealed
    otherwise than ``cipher`` seals (``DecryptionError`` when a sealed body does not
    open)."""
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        tail = len(MAGIC) + _LENGTH.size
        file.seek(0)
        if file.read(len(OLDER_MAGIC)) == OLDER_MAGIC:
            return None
        try:
            if size < tail:
                raise ValueError("too short")
            file.seek(size - tail)
            end = file.read(tail)
            if end[_LENGTH.size :] != MAGIC:
                raise ValueError("not a saved vector index")
            (length,) = _LENGTH.unpack(end[: _LENGTH.size])
            body = size - tail - length
            if body < 0:
                raise ValueError("its header is longer than the file")
            file.seek(body)
            header = json.loads(file.read(length))
            covered = Covered(
                int(header["generation"]),
                int(header["born"]),
                int(header["position"]),
                int(header["epoch"]),
            )
            if int(header["body"]) != body:
                raise ValueError("its body is not as long as its header says")
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise IntegrityError(f"{path.name} is damaged ({exc})") from exc
        if header.get("namespace") != _digest(namespace):
            raise IntegrityError(f"{path.name} is the vector index of another namespace")
        if bool(header.get("sealed")) != cipher.encrypted:
            raise IntegrityError(f"{path.name} is sealed otherwise than this store")
        aad = _aad(namespace, covered)
        if cipher.encrypted:
            file.seek(0)
            opened = cipher.open_bytes(file.read(body), aad)
            return Saved(covered, memoryview(opened), mapped=False)
        if header.get("sha256") != _hashed(file, aad, body):
            raise IntegrityError(f"{path.name} is damaged (its checksum does not match)")
        if not body:
            raise IntegrityError(f"{path.name} is damaged (no body)")
        # the same open file that was checked: a rename over it since changes nothing
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        return Saved(covered, memoryview(mapping)[:body], mapped=True)


def _hashed(file: BinaryIO, aad: str, size: int) -> str:
    """SHA-256 over the associated data and the file's first ``size`` bytes, read in
    blocks (the page cache holds them, not this process)."""
    digest = hashlib.sha256(aad.encode())
    file.seek(0)
    left = size
    while left:
        block = file.read(min(_BLOCK, left))
        if not block:
            raise IntegrityError("a saved vector index ends before its body does")
        digest.update(block)
        left -= len(block)
    return digest.hexdigest()


def _aad(namespace: str, covered: Covered) -> str:
    c = covered
    return f"vector-index:{namespace}:{c.generation}:{c.born}:{c.position}:{c.epoch}"


def _digest(namespace: str) -> str:
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()
