"""A pydantic-ai agent with engramdb as its long-term memory
(docs/integrations/pydantic-ai.md).

Three tools over ``AsyncMemory``: ``remember`` (``add``), ``recall``
(``search``) and ``context`` (``context``). The store, namespace and session
are the run's dependencies (``deps``), so one agent serves many users. Run
it with a real model::

    OPENAI_API_KEY=... python examples/pydantic_ai_memory.py

``tests/integrations/test_examples.py`` runs the same agent with pydantic-ai's
``FunctionModel`` and ``TestModel``: no network, no key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic_ai import Agent, RunContext
from pydantic_ai.models import Model

from engramdb import AsyncMemory

INSTRUCTIONS = (
    "You are a helpful assistant with a long-term memory. Call remember for anything "
    "the user tells you about themselves that is worth keeping, and recall or context "
    "before answering a question about them."
)


@dataclass
class MemoryDeps:
    """Where the tools remember: one store, the user's namespace, this conversation."""

    memory: AsyncMemory
    namespace: str
    session: str | None = None


def build_agent(model: Model | str | None = None) -> Agent[MemoryDeps, str]:
    """The agent; ``model`` None must be given at ``run`` (e.g. ``"openai:gpt-4o"``)."""
    agent = Agent(model, deps_type=MemoryDeps, instructions=INSTRUCTIONS)

    @agent.tool
    async def remember(ctx: RunContext[MemoryDeps], text: str) -> str:
        """Remember something worth keeping about the user, in their own words.

        Args:
            text: What to remember, one fact or event.
        """
        found = await ctx.deps.memory.add(
            text, namespace=ctx.deps.namespace, session=ctx.deps.session, speaker="user"
        )
        return "already remembered" if found.repeated else "remembered"

    @agent.tool
    async def recall(ctx: RunContext[MemoryDeps], query: str, limit: int = 5) -> str:
        """Search the long-term memory; one memory a line, the most relevant first.

        Args:
            query: What to look for, as a question or keywords.
            limit: How many memories at most.
        """
        hits = await ctx.deps.memory.search(query, namespace=ctx.deps.namespace, limit=limit)
        lines = [f"{h.engram.occurred_at:%Y-%m-%d} {h.engram.text}" for h in hits]
        return "\n".join(lines) or "nothing remembered about that"

    @agent.tool
    async def context(ctx: RunContext[MemoryDeps], query: str) -> str:
        """What the memory holds that matters for this query: facts, recent turns, episodes.

        Args:
            query: The user's latest message or question.
        """
        bundle = await ctx.deps.memory.context(
            query, namespace=ctx.deps.namespace, session=ctx.deps.session, budget_tokens=400
        )
        return bundle.render() or "nothing remembered about that"

    return agent


async def main() -> None:
    async with AsyncMemory("./engram-data") as memory:
        agent = build_agent("openai:gpt-4o")
        deps = MemoryDeps(memory, namespace="user-42", session="chat-1")
        await agent.run("My dog is called Pastel.", deps=deps)
        answer = await agent.run("What is my dog called?", deps=deps)
        print(answer.output)


if __name__ == "__main__":
    asyncio.run(main())
