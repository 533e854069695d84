"""The MCP tools of learning: record_experience, recall_experiences, teach, concepts,
retag (docs/learning.md), added to the server ``tools.build_mcp`` makes.

Each takes the options of its ``Memory`` method as ``engramdb.options`` defines
them, checks the key's scope like every tool (``scoped`` for a read, ``writing``
for a write, which also appends the audit entry) and answers with the REST
API's models. No ``from __future__ import annotations``: the SDK reads the
annotations at runtime.
"""

import contextlib
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from engramdb import Memory
from engramdb.options import RECALL_EXPERIENCES, RECORD_EXPERIENCE
from engramdb.server.lessons import (
    ConceptOut,
    ConceptsOut,
    ExperienceHitOut,
    ExperienceOut,
    RecallExperiencesOut,
)
from engramdb.server.schemas import IsoTime

__all__ = ["add_learning_tools"]

Scoped = Callable[[Context, str | None, Literal["read", "write"]], str]
Writing = Callable[..., contextlib.AbstractContextManager[Any]]


def add_learning_tools(
    server: MCPServer,
    memory: Memory,
    scoped: Scoped,
    writing: Writing,
    translated: Callable[[], contextlib.AbstractContextManager[None]],
) -> None:
    """Add the learning tools to ``server``, acting on ``memory``."""
    Namespace = Annotated[
        str | None, Field(description="Namespace to use (default: this server's namespace).")
    ]

    @server.tool()
    def record_experience(
        situation: Annotated[str, Field(description="The situation the action was taken in.")],
        action: Annotated[str, Field(description="What was done.")],
        reward: Annotated[float, Field(description="How well it worked: -1 to 1.", ge=-1, le=1)],
        ctx: Context,
        outcome: Annotated[str, Field(description="What happened, in words.")] = "",
        namespace: Namespace = None,
        occurred_at: Annotated[
            IsoTime | None, Field(description=RECORD_EXPERIENCE.help("occurred_at"))
        ] = None,
    ) -> ExperienceOut:
        """Remember what was done in a situation and how well it worked, so that
        ``recall_experiences`` finds what worked last time."""
        with writing(ctx, namespace, "record_experience") as write:
            recorded = memory.record_experience(
                situation,
                action,
                outcome,
                reward,
                namespace=write.namespace,
                occurred_at=occurred_at,
            )
            write.target = recorded.id
        return ExperienceOut.of(recorded)

    @server.tool()
    def recall_experiences(
        situation: Annotated[str, Field(description="The situation at hand, in plain words.")],
        ctx: Context,
        namespace: Namespace = None,
        limit: Annotated[int, Field(description=RECALL_EXPERIENCES.help("limit"))] = 5,
        now: Annotated[IsoTime | None, Field(description=RECALL_EXPERIENCES.help("now"))] = None,
        reinforce: Annotated[bool, Field(description=RECALL_EXPERIENCES.help("reinforce"))] = True,
    ) -> RecallExperiencesOut:
        """What was done in similar situations and how it went, the most useful first
        (similarity and reward)."""
        ns = scoped(ctx, namespace, "read")
        with translated():
            hits = memory.recall_experiences(
                situation, namespace=ns, limit=limit, now=now, reinforce=reinforce
            )
        return RecallExperiencesOut(
            situation=situation,
            namespace=ns,
            now=now,
            experiences=[ExperienceHitOut.of(h) for h in hits],
        )

    @server.tool()
    def teach(
        concept: Annotated[str, Field(description="The concept's name.")],
        examples: Annotated[
            list[str], Field(description="Texts that are examples of it: one is enough.")
        ],
        ctx: Context,
        namespace: Namespace = None,
    ) -> ConceptOut:
        """Teach a concept from a few examples (or refine it with more); then ``recall``
        with ``concept`` finds only the memories that belong to it."""
        with writing(ctx, namespace, "teach") as write:
            taught = memory.teach(concept, examples, namespace=write.namespace)
            write.target = taught.id
        return ConceptOut.of(taught)

    @server.tool()
    def concepts(ctx: Context, namespace: Namespace = None) -> ConceptsOut:
        """The concepts taught here, each with its examples and how many memories belong."""
        ns = scoped(ctx, namespace, "read")
        with translated():
            found = memory.concepts(namespace=ns)
        return ConceptsOut(namespace=ns, concepts=[ConceptOut.of(c) for c in found])

    @server.tool()
    def retag(ctx: Context, namespace: Namespace = None) -> ConceptsOut:
        """Compute every concept's prototype again from its examples (after a model
        change or an import)."""
        ns = scoped(ctx, namespace, "read")
        with translated():
            found = memory.retag(namespace=ns)
        return ConceptsOut(namespace=ns, concepts=[ConceptOut.of(c) for c in found])
