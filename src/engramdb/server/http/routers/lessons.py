"""Learning: experiences and concepts of one namespace (docs/learning.md)."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.lessons import (
    ConceptOut,
    ConceptsOut,
    ExperienceHitOut,
    ExperienceIn,
    ExperienceOut,
    RecallExperiencesIn,
    RecallExperiencesOut,
    TeachIn,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["learning"], responses=ERRORS)


@router.post("/experiences", status_code=201)
def record_experience(
    namespace: WriteNamespace, body: ExperienceIn, memory: MemoryDep
) -> ExperienceOut:
    """Remember what was done in a situation and how well it worked."""
    recorded = memory.record_experience(
        body.situation,
        body.action,
        body.outcome,
        body.reward,
        namespace=namespace,
        occurred_at=body.occurred_at,
    )
    return ExperienceOut.of(recorded)


@router.post("/experiences/recall")
def recall_experiences(
    namespace: ReadNamespace, body: RecallExperiencesIn, memory: MemoryDep
) -> RecallExperiencesOut:
    """The experiences of similar situations, the most useful first (similarity and reward)."""
    hits = memory.recall_experiences(body.situation, namespace=namespace, **body.options())
    return RecallExperiencesOut(
        situation=body.situation,
        namespace=namespace,
        now=body.now,
        experiences=[ExperienceHitOut.of(h) for h in hits],
    )


@router.post("/concepts", status_code=201)
def teach(namespace: WriteNamespace, body: TeachIn, memory: MemoryDep) -> ConceptOut:
    """Teach a concept from examples, or refine it with more."""
    return ConceptOut.of(memory.teach(body.concept, body.examples, namespace=namespace))


@router.get("/concepts")
def concepts(namespace: ReadNamespace, memory: MemoryDep) -> ConceptsOut:
    """The namespace's concepts with their examples, threshold and tagged memories."""
    found = memory.concepts(namespace=namespace)
    return ConceptsOut(namespace=namespace, concepts=[ConceptOut.of(c) for c in found])


@router.post("/concepts/retag")
def retag(namespace: ReadNamespace, memory: MemoryDep) -> ConceptsOut:
    """Compute every concept's prototype again from its examples."""
    found = memory.retag(namespace=namespace)
    return ConceptsOut(namespace=namespace, concepts=[ConceptOut.of(c) for c in found])
