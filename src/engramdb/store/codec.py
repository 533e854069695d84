"""The stored form of a memory's values, the same in every backend.

Owns what a backend writes for a value that is not a plain column: metadata
as canonical JSON, and in an encrypted store (docs/security.md) which values
are sealed and how: an optional value stays None, and a memory's emotion
(valence, arousal and label, since how someone felt is personal) is sealed as
one value with zeros left beside it. Stored times (``clock.to_iso``) are read
back many at once by ``seconds``. The cryptography is
``engramdb.security.crypto``; which table and column a value lives in, and so
its associated data, is the backend's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso
from engramdb.security.crypto import Cipher

__all__ = [
    "dump",
    "learned_aad",
    "open_emotion",
    "open_optional",
    "profile_aad",
    "seal_emotion",
    "seal_optional",
    "seconds",
    "stored_digest",
]

_EPOCH = np.datetime64(0, "us")
_EXACT_US = 2**53  # microseconds a float64 holds exactly


def dump(metadata: Mapping[str, Any]) -> str:
    """Metadata as stored: compact JSON, keys sorted, non-ASCII kept as is."""
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def stored_digest(cipher: Cipher, digest: str) -> str:
    """A repetition digest or idempotency key as stored (docs/repetition.md): itself in
    the clear, a keyed tag in an encrypted store."""
    return cipher.tag(digest) if cipher.encrypted else digest


def learned_aad(namespace: str, kind: str, key: str) -> str:
    """The associated data of a learned value (docs/learning.md)."""
    return f"learned.value:{namespace}:{kind}:{key}"


def profile_aad(column: str, namespace: str, tag: str, version: int) -> str:
    """The associated data of a pinned profile entry's key or text (docs/profile.md),
    naming its version and its key's stored form (a keyed tag when sealed)."""
    return f"profile.{column}:{namespace}:{tag}:{version}"


def seal_optional(cipher: Cipher, value: str | None, aad: str) -> str | bytes | None:
    return None if value is None else cipher.seal(value, aad)


def sealed_version(
    cipher: Cipher, engram_id: str, version: int, text: str, speaker: str | None, metadata: str
) -> tuple[str | bytes, str | bytes | None, str | bytes]:
    """A version's text, speaker and metadata (JSON) as both stores keep them: each
    sealed and bound to its memory, version and column (as they are when plaintext)."""
    aad = f"{engram_id}:{version}"
    return (
        cipher.seal(text, f"versions.text:{aad}"),
        seal_optional(cipher, speaker, f"versions.speaker:{aad}"),
        cipher.seal(metadata, f"versions.metadata:{aad}"),
    )


def sealed_fact(
    cipher: Cipher, engram_id: str, subject: str, attribute: str, value: str
) -> tuple[str | bytes, str | bytes, str | bytes]:
    """A fact's subject, attribute and value as both stores keep them: each sealed and
    bound to the fact's memory and column (as they are when plaintext)."""
    return (
        cipher.seal(subject, f"facts.subject:{engram_id}"),
        cipher.seal(attribute, f"facts.attribute:{engram_id}"),
        cipher.seal(value, f"facts.value:{engram_id}"),
    )


def open_optional(cipher: Cipher, value: object, aad: str) -> str | None:
    return None if value is None else cipher.open(value, aad)


def seal_emotion(
    cipher: Cipher, engram_id: str, valence: float, arousal: float, emotion: str
) -> tuple[float, float, str | bytes]:
    """(valence, arousal, emotion) as stored: in an encrypted store, all three
    sealed in the emotion column (how someone felt is personal) and zeros beside."""
    if not cipher.encrypted:
        return valence, arousal, emotion
    # "valence|arousal|label": floats by repr (exact), the label last (it may hold "|")
    sealed = cipher.seal(f"{valence!r}|{arousal!r}|{emotion}", f"dynamics.emotion:{engram_id}")
    return 0.0, 0.0, sealed


def open_emotion(
    cipher: Cipher, engram_id: str, valence: float, arousal: float, emotion: object
) -> tuple[float, float, str]:
    """What ``seal_emotion`` stored, back as (valence, arousal, emotion)."""
    if not cipher.encrypted:
        return valence, arousal, str(emotion)
    opened_valence, opened_arousal, label = cipher.open(
        emotion, f"dynamics.emotion:{engram_id}"
    ).split("|", 2)
    return float(opened_valence), float(opened_arousal), label


def seconds(stamps: Sequence[str]) -> npt.NDArray[np.float64]:
    """Seconds since the epoch of stored times, exactly as ``from_iso(s).timestamp()``
    gives them (microseconds over 10**6, rounded once), parsed all at once."""
    # ``to_iso``'s fixed width: parsed by numpy; any other form one by one
    if set(map(len, stamps)) <= {27} and all(s[-1] == "Z" for s in stamps):
        try:
            parsed = np.array([s[:-1] for s in stamps], dtype="datetime64[us]")
        except ValueError:
            pass  # not what ``to_iso`` writes: read one by one below
        else:
            micros = (parsed - _EPOCH).astype(np.int64)
            out: npt.NDArray[np.float64] = micros / 1e6
            for i in np.flatnonzero(np.abs(micros) >= _EXACT_US):  # far from 1970
                out[i] = int(micros[i]) / 10**6
            return out
    return np.array([from_iso(s).timestamp() for s in stamps], dtype=np.float64)
