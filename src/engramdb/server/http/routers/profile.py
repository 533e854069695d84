"""The pinned profile of one namespace: pin, unpin, read, proposals (docs/profile.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from engramdb.options import PROFILE
from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.profile import (
    PinIn,
    ProfileEntryOut,
    ProfileOut,
    ProfileProposalOut,
    ProposalsOut,
)
from engramdb.server.schemas import IsoTime

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["profile"], responses=ERRORS)

# The library checks keys too (engramdb.validation.check_key); the pattern here documents
# the rule in the OpenAPI schema, so clients and fuzzers see it.
Key = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=64,
        description="The entry's key: letters, digits, '_', '.' or '-', a letter or digit "
        "first, at most 64 characters.",
    ),
]


@router.put("/profile/{key}")
def pin(namespace: WriteNamespace, key: Key, memory: MemoryDep, body: PinIn) -> ProfileEntryOut:
    """Pin ``text`` under ``key``: a new version when the key is pinned with other text."""
    entry = memory.pin(key, body.text, namespace=namespace, source_id=body.source_id)
    return ProfileEntryOut.of(entry)


@router.delete("/profile/{key}")
def unpin(namespace: WriteNamespace, key: Key, memory: MemoryDep) -> ProfileEntryOut:
    """Stop showing ``key``: its version's validity closes now; answers it closed."""
    return ProfileEntryOut.of(memory.unpin(key, namespace=namespace))


@router.get("/profile")
def profile(
    namespace: ReadNamespace,
    memory: MemoryDep,
    as_of: Annotated[IsoTime | None, Query(description=PROFILE.help("as_of"))] = None,
    history: Annotated[bool, Query(description=PROFILE.help("history"))] = False,
) -> ProfileOut:
    """The pinned entries by key: now, at ``as_of``, or every version with ``history``."""
    found = memory.profile(namespace=namespace, as_of=as_of, history=history)
    entries = [ProfileEntryOut.of(e) for e in found]
    return ProfileOut(namespace=namespace, as_of=as_of, history=history, entries=entries)


@router.get("/profile-proposals")
def profile_proposals(namespace: ReadNamespace, memory: MemoryDep) -> ProposalsOut:
    """Entries proposed from stable facts; accept one by pinning it with its ``source_id``."""
    found = memory.profile_proposals(namespace=namespace)
    return ProposalsOut(namespace=namespace, proposals=[ProfileProposalOut.of(p) for p in found])
