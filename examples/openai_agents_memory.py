"""An OpenAI Agents SDK agent with engramdb as its long-term memory
(docs/integrations/openai-agents.md).

Three tools, each a thin call of ``AsyncMemory``: ``remember`` (``add``),
``recall`` (``search``) and ``context`` (``context``: what matters now, packed
into a token budget). The store, namespace and session travel in the run's
context, so one agent serves many users. Run it with a real model::

    OPENAI_API_KEY=... python examples/openai_agents_memory.py

``tests/integrations/test_examples.py`` runs the same agent with the SDK's
``agents.testing.ScriptedModel``: no network, no key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from agents import Agent, Model, RunContextWrapper, Runner, function_tool

from engramdb import AsyncMemory

INSTRUCTIONS = (
    "You are a helpful assistant with a long-term memory. Call remember for anything "
    "the user tells you about themselves that is worth keeping, and recall or context "
    "before answering a question about them."
)


@dataclass
class MemoryContext:
    """Where the tools remember: one store, the user's namespace, this conversation."""

    memory: AsyncMemory
    namespace: str
    session: str | None = None


@function_tool
async def remember(ctx: RunContextWrapper[MemoryContext], text: str) -> str:
    """Remember something worth keeping about the user, in their own words.

    Args:
        text: What to remember, one fact or event.
    """
    found = await ctx.context.memory.add(
        text, namespace=ctx.context.namespace, session=ctx.context.session, speaker="user"
    )
    return "already remembered" if found.repeated else "remembered"


@function_tool
async def recall(ctx: RunContextWrapper[MemoryContext], query: str, limit: int = 5) -> str:
    """Search the long-term memory; one memory a line, the most relevant first.

    Args:
        query: What to look for, as a question or keywords.
        limit: How many memories at most.
    """
    hits = await ctx.context.memory.search(query, namespace=ctx.context.namespace, limit=limit)
    lines = [f"{h.engram.occurred_at:%Y-%m-%d} {h.engram.text}" for h in hits]
    return "\n".join(lines) or "nothing remembered about that"


@function_tool
async def context(ctx: RunContextWrapper[MemoryContext], query: str) -> str:
    """What the memory holds that matters for this query: facts, recent turns, episodes.

    Args:
        query: The user's latest message or question.
    """
    bundle = await ctx.context.memory.context(
        query, namespace=ctx.context.namespace, session=ctx.context.session, budget_tokens=400
    )
    return bundle.render() or "nothing remembered about that"


def build_agent(model: Model | str | None = None) -> Agent[MemoryContext]:
    """The agent; ``model`` None is the SDK's default (OpenAI, needs a key)."""
    return Agent[MemoryContext](
        name="assistant",
        instructions=INSTRUCTIONS,
        tools=[remember, recall, context],
        model=model,
    )


async def main() -> None:
    async with AsyncMemory("./engram-data") as memory:
        agent = build_agent()
        where = MemoryContext(memory, namespace="user-42", session="chat-1")
        await Runner.run(agent, "My dog is called Pastel.", context=where)
        answer = await Runner.run(agent, "What is my dog called?", context=where)
        print(answer.final_output)


if __name__ == "__main__":
    asyncio.run(main())
