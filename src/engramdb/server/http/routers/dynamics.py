"""Memory dynamics of one namespace: its stored budget, and fading (docs/dynamics.md)."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb import Memory
from engramdb.model import Budget
from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import BudgetIn, BudgetOut, FadeIn, FadeOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["dynamics"], responses=ERRORS)


@router.get("/budget")
def budget(namespace: ReadNamespace, memory: MemoryDep) -> BudgetOut:
    """The namespace's budget; both bounds null when it has none."""
    return _budget_out(memory, namespace)


@router.put("/budget")
def set_budget(namespace: WriteNamespace, memory: MemoryDep, body: BudgetIn) -> BudgetOut:
    """Store the namespace's budget (both null removes it); the next add or fade honours it."""
    memory.set_budget(namespace=namespace, max_memories=body.max_memories, max_bytes=body.max_bytes)
    return _budget_out(memory, namespace)


@router.post("/fade")
def fade(namespace: WriteNamespace, memory: MemoryDep, body: FadeIn | None = None) -> FadeOut:
    """Make dormant what has faded at ``now`` and what exceeds the budget (never deletes)."""
    now = None if body is None else body.now
    return FadeOut(namespace=namespace, dormant=memory.fade(namespace=namespace, now=now))


def _budget_out(memory: Memory, namespace: str) -> BudgetOut:
    return BudgetOut.of(memory.budget(namespace=namespace) or Budget(), namespace=namespace)
