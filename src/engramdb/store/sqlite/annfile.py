"""The saved vector index of one namespace: a file beside the store (docs/security.md).

It owns the file's form and nothing else: where it lies (``<database>.ann-``
and a digest of the namespace, so ``security.erasure.store_files`` counts it
among the store's files), writing it whole or not at all (a private 0600
scratch file renamed over the old one), and reading it back only when it is
intact. When a file is saved, loaded or thrown away is ``cache.py``'s.

Form: a magic line, a JSON header (what the file covers: the namespace's
generation, the position in the ``vector_changes`` log, the log's epoch, the
dimensions; never the namespace's name, only its digest), then the body (the
live keys and hnswlib's state as raw arrays). The associated data
``vector-index:<namespace>:<generation>:<born>:<position>:<epoch>`` binds the body to
what the header claims: in an encrypted store the body is sealed with the
namespace's data key under it (AES-GCM, so no vector and no graph page is on
disk in the clear), in a plaintext store a SHA-256 over it and the body is
checked before anything is handed to hnswlib (a damaged graph would crash it).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engramdb.errors import IntegrityError
from engramdb.security.crypto import Cipher
from engramdb.store.files import private_file
from engramdb.store.vectors import IndexState

__all__ = ["Covered", "path_of", "paths", "read", "write"]

MAGIC = b"engramdb vector index 1\n"
_LENGTH = struct.Struct(">I")
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


def path_of(database: str, namespace: str) -> Path:
    return Path(f"{database}{SUFFIX}{_digest(namespace)[:32]}")


def paths(database: str) -> list[Path]:
    """Every saved index (and scratch file left by a crash) of the store at ``database``."""
    folder = Path(database).parent
    stem = Path(database).name + SUFFIX
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir() if f.name.startswith(stem) and f.is_file())


def write(path: Path, namespace: str, covered: Covered, state: IndexState, cipher: Cipher) -> None:
    """Replace the file at ``path`` with ``state`` in one rename (never half a file)."""
    keys, params = state
    scalars = {k: v for k, v in params.items() if not isinstance(v, np.ndarray)}
    arrays = [("keys", np.ascontiguousarray(keys, dtype=np.int64))] + [
        (k, np.ascontiguousarray(v)) for k, v in params.items() if isinstance(v, np.ndarray)
    ]
    layout = json.dumps(
        {"params": scalars, "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in arrays]}
    ).encode()
    pieces: list[bytes | memoryview] = [_LENGTH.pack(len(layout)), layout]
    pieces += [memoryview(a).cast("B") for _, a in arrays]
    aad = _aad(namespace, covered)
    header: dict[str, object] = {
        "namespace": _digest(namespace),
        "generation": covered.generation,
        "born": covered.born,
        "position": covered.position,
        "epoch": covered.epoch,
        "dims": int(scalars.get("dim", 0)),  # type: ignore[call-overload]
        "sealed": cipher.encrypted,
    }
    if cipher.encrypted:
        pieces = [cipher.seal_bytes(b"".join(pieces), aad)]
    else:  # written piece by piece: no second copy of a large graph in memory
        digest = hashlib.sha256(aad.encode())
        for piece in pieces:
            digest.update(piece)
        header["sha256"] = digest.hexdigest()
    head = json.dumps(header).encode()
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    private_file(scratch, exclusive=True)
    try:
        with scratch.open("r+b") as out:
            out.write(MAGIC + _LENGTH.pack(len(head)) + head)
            for piece in pieces:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def read(path: Path, namespace: str, cipher: Cipher) -> tuple[Covered, IndexState]:
    """The index saved at ``path``; ``IntegrityError`` when it is not intact, not this
    namespace's, or sealed otherwise than ``cipher`` seals (``DecryptionError`` when
    a sealed body does not open)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise IntegrityError(f"{path.name} is not a saved vector index")
    try:
        at = len(MAGIC)
        (size,) = _LENGTH.unpack_from(data, at)
        header = json.loads(data[at + 4 : at + 4 + size])
        body = memoryview(data)[at + 4 + size :]
        covered = Covered(
            int(header["generation"]),
            int(header["born"]),
            int(header["position"]),
            int(header["epoch"]),
        )
        if header["namespace"] != _digest(namespace):
            raise IntegrityError(f"{path.name} is the vector index of another namespace")
        if bool(header["sealed"]) != cipher.encrypted:
            raise IntegrityError(f"{path.name} is sealed otherwise than this store")
        aad = _aad(namespace, covered)
        if cipher.encrypted:
            body = memoryview(cipher.open_bytes(bytes(body), aad))
        else:
            digest = hashlib.sha256(aad.encode())
            digest.update(body)
            if header.get("sha256") != digest.hexdigest():
                raise IntegrityError(f"{path.name} is damaged (its checksum does not match)")
        return covered, _state(body)
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise IntegrityError(f"{path.name} is damaged ({exc})") from exc


def _state(body: memoryview) -> IndexState:
    (size,) = _LENGTH.unpack_from(body, 0)
    layout = json.loads(bytes(body[4 : 4 + size]))
    params: dict[str, object] = dict(layout["params"])
    at = 4 + size
    keys: npt.NDArray[np.int64] | None = None
    for name, dtype, shape in layout["arrays"]:
        kind = np.dtype(dtype)
        count = int(np.prod(shape))
        # views of the file's bytes, not copies: hnswlib copies what it keeps
        array = np.frombuffer(body, dtype=kind, count=count, offset=at).reshape(shape)
        at += count * kind.itemsize
        if name == "keys":
            keys = array
        else:
            params[name] = array
    if keys is None or at != len(body):
        raise ValueError("the body does not match its layout")
    return keys.astype(np.int64), params  # astype: keys are copied, and writable


def _aad(namespace: str, covered: Covered) -> str:
    c = covered
    return f"vector-index:{namespace}:{c.generation}:{c.born}:{c.position}:{c.epoch}"


def _digest(namespace: str) -> str:
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()
