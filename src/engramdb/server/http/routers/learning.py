"""Learning: feedback on a search's hits and the namespace's ranker weights
(``Memory.feedback``, ``weights``, ``reset_weights``; docs/learning.md)."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import FeedbackIn, FeedbackOut, WeightsOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["learning"], responses=ERRORS)


@router.post("/feedback")
def feedback(namespace: WriteNamespace, memory: MemoryDep, body: FeedbackIn) -> FeedbackOut:
    """Judge one hit of a search this server ran: the judgement is stored with the search's
    query and hits, and the namespace's ranker weights are learned again from its feedback."""
    judged = memory.feedback(
        body.engram_id, body.reward, namespace=namespace, search_id=body.search_id, now=body.now
    )
    return FeedbackOut.of(judged)


@router.get("/weights")
def weights(namespace: ReadNamespace, memory: MemoryDep) -> WeightsOut:
    """The namespace's ranker weights, each with the prior's and its shift from it."""
    return WeightsOut.of(memory.weights(namespace=namespace))


@router.delete("/weights")
def reset_weights(namespace: WriteNamespace, memory: MemoryDep) -> WeightsOut:
    """Rank with the prior again: the learned weights and the feedback they came from go."""
    return WeightsOut.of(memory.reset_weights(namespace=namespace))
