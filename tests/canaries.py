"""The canary conversation both stores' encryption tests write and then look for
(docs/security.md): unique markers in every place a memory's content goes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from engramdb import EncryptionKey
from engramdb.security.crypto import generate_key

T0 = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)
# Unique markers in every place a memory's content goes: text, speaker, metadata, a
# later version, what consolidation derives, the pinned profile, an idempotency key.
CANARIES = ("Zorbaxqy", "Quillfenwick", "Plumtrazzle", "Vexmortain", "Snorkelbrand")


def new_key() -> EncryptionKey:
    return EncryptionKey.from_text(generate_key())


def turns() -> list[dict[str, Any]]:
    """Five turns of session ``s1`` from ``T0``, a minute apart, each canary in them."""
    said = [
        ("Maya Zorbaxqy", "I moved to Quillfenwick last month and I love it."),
        ("Tom", "Nice! What do you do there?"),
        ("Maya Zorbaxqy", "I work at Plumtrazzle Labs as a nurse."),
        ("Tom", "Sounds like a good life."),
        ("Maya Zorbaxqy", "We adopted a dog named Vexmortain."),
    ]
    return [
        {
            "text": text,
            "speaker": speaker,
            "session": "s1",
            "occurred_at": T0 + timedelta(minutes=i),
            "metadata": {"note": "Snorkelbrand"},
        }
        for i, (speaker, text) in enumerate(said)
    ]
