"""The server as a key sees it: version, encryption at rest, the key itself and what
background consolidation has done (docs/server.md; the dashboard's first call)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from engramdb import __version__
from engramdb.server.http.auth import CurrentKey, MemoryDep
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schedule import ConsolidationSchedule, ScheduleState
from engramdb.server.schemas import KeyOut, ScheduleOut, ServerOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["server"], responses=ERRORS)


@router.get("/server")
def server(request: Request, memory: MemoryDep, key: CurrentKey) -> ServerOut:
    """What this server is and who is asking: any valid key may read it."""
    schedule: ConsolidationSchedule | None = request.app.state.schedule
    state = ScheduleState(every_s=0.0) if schedule is None else schedule.state()
    return ServerOut(
        version=__version__,
        encrypted=memory.encrypted,
        key=KeyOut(id=key.id, name=key.name, access=key.access, namespaces=list(key.namespaces)),
        consolidation=ScheduleOut(
            every_s=state.every_s,
            passes=state.passes,
            runs=state.runs,
            failures=state.failures,
            episodes=state.episodes,
            facts=state.facts,
            summaries=state.summaries,
            last_run_at=state.last_run_at,
        ),
    )
