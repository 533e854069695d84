"""``engramdb.integrations.llamaindex`` with the real llama-index-core
(docs/integrations/llamaindex.md): the retriever on each store, the memory block in
LlamaIndex's own ``Memory``."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core", reason="the llamaindex extra is not installed")

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory as LlamaMemory
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import MetadataMode, QueryBundle

from engramdb import AsyncMemory, InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.integrations.llamaindex import EngramMemoryBlock, EngramRetriever


def test_the_retriever_returns_nodes_scored_by_relevance(
    remembered: str, embedder: Embedder
) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        # reinforce=False: the first search would otherwise change what the second finds
        retriever = EngramRetriever(mem, namespace="maya", limit=3, reinforce=False)
        nodes = retriever.retrieve("What is the dog called?")
        expected = mem.search("What is the dog called?", namespace="maya", limit=3, reinforce=False)
    assert [n.node.get_content() for n in nodes] == [h.engram.text for h in expected]
    assert [n.score for n in nodes] == [h.relevance for h in expected]
    top = nodes[0].node
    assert top.node_id == expected[0].engram.id
    assert top.metadata["namespace"] == "maya"
    shown = top.get_content(metadata_mode=MetadataMode.LLM)
    assert "speaker: Maya" in shown
    assert "occurred_at: 2024-03-02T09:00:00Z" in shown
    assert "stability_days" not in shown  # the rest of the metadata stays out of the prompt


def test_a_similarity_cutoff_reads_the_relevance(remembered: str, embedder: Embedder) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        nodes = EngramRetriever(mem, namespace="maya", limit=4).retrieve("the terrier Pastel")
    cutoff = SimilarityPostprocessor(similarity_cutoff=0.5)
    kept = cutoff.postprocess_nodes(nodes, query_bundle=QueryBundle("the terrier Pastel"))
    assert [n.score for n in kept] == [n.score for n in nodes if (n.score or 0) >= 0.5]


def test_search_options_are_passed_on(remembered: str, embedder: Embedder) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        nodes = EngramRetriever(mem, namespace="maya", where={"speaker": "Jonah"}).retrieve("buy")
    assert {n.node.metadata["speaker"] for n in nodes} == {"Jonah"}


def test_aretrieve_awaits_an_async_memory(remembered: str, embedder: Embedder) -> None:
    async def scenario() -> list[str]:
        async with AsyncMemory(remembered, embedder=embedder) as mem:
            retriever = EngramRetriever(mem, namespace="maya", limit=1)
            with pytest.raises(InvalidInputError, match="async"):
                retriever.retrieve("What is the dog called?")
            return [
                n.node.get_content() for n in await retriever.aretrieve("What is the dog called?")
            ]

    assert asyncio.run(scenario()) == ["We adopted a rescue terrier called Pastel."]


def test_the_memory_block_remembers_what_it_is_given_and_recalls_it(embedder: Embedder) -> None:
    async def scenario() -> tuple[str, str]:
        async with AsyncMemory(":memory:", embedder=embedder) as mem:
            block = EngramMemoryBlock(memory=mem, namespace="chat", session="c1")
            await block.aput(
                [
                    ChatMessage(role="system", content="You are kind."),
                    ChatMessage(role="user", content="My sister Ines lives in Porto."),
                    ChatMessage(role="assistant", content="Porto is lovely in spring."),
                ]
            )
            stored = await mem.stats(namespace="chat")
            assert stored.engrams == 2  # the system message is not remembered
            found = await block.aget([ChatMessage(role="user", content="Where does Ines live?")])
            empty = await block.aget([])
            return found, empty

    found, empty = asyncio.run(scenario())
    assert "My sister Ines lives in Porto." in found
    assert empty == ""


def test_the_memory_block_serves_llama_index_memory(embedder: Embedder) -> None:
    """LlamaIndex's ``Memory`` flushes old messages into the block, then puts the block's
    text in the system message of later turns."""
    with Memory(":memory:", embedder=embedder) as mem:
        memory = LlamaMemory.from_defaults(
            session_id="s1",
            token_limit=60,
            chat_history_token_ratio=0.5,
            token_flush_size=20,
            memory_blocks=[EngramMemoryBlock(memory=mem, namespace="llama")],
        )
        memory.put_messages(
            [
                ChatMessage(role="user", content="Our dog Pastel is afraid of thunderstorms."),
                ChatMessage(role="assistant", content="Poor Pastel; a quiet room helps."),
                *[
                    ChatMessage(role="user", content=f"Unrelated small talk number {i}.")
                    for i in range(8)
                ],
            ]
        )
        memory.put(ChatMessage(role="user", content="Is Pastel afraid of anything?"))
        messages = memory.get()
        assert mem.stats(namespace="llama").engrams >= 2  # flushed into engramdb
    system = messages[0]
    assert str(system.role.value) == "system"
    assert "Pastel is afraid of thunderstorms" in (system.content or "")
