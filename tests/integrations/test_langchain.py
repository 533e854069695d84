"""``engramdb.integrations.langchain.EngramRetriever`` with the real langchain-core
(docs/integrations/langchain.md), on each store."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from engramdb import AsyncMemory, InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.integrations.langchain import EngramRetriever


def test_the_retriever_returns_the_memories_search_finds(
    remembered: str, embedder: Embedder
) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        # reinforce=False: the first search would otherwise change what the second finds
        options = {"reinforce": False}
        retriever = EngramRetriever(memory=mem, namespace="maya", limit=2, search_kwargs=options)
        assert isinstance(retriever, BaseRetriever)
        docs = retriever.invoke("What is the dog called?")
        expected = mem.search("What is the dog called?", namespace="maya", limit=2, **options)
    assert all(isinstance(d, Document) for d in docs)
    assert [d.page_content for d in docs] == [h.engram.text for h in expected]
    assert docs[0].page_content == "We adopted a rescue terrier called Pastel."
    first = docs[0].metadata
    assert docs[0].id == first["id"] == expected[0].engram.id
    assert (first["namespace"], first["speaker"], first["rank"]) == ("maya", "Maya", 1)
    assert first["occurred_at"] == "2024-03-02T09:00:00Z"
    assert 0.0 <= first["relevance"] <= 1.0
    assert "text" not in first


def test_search_options_apply_and_a_call_overrides_them(
    remembered: str, embedder: Embedder
) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        retriever = EngramRetriever(
            memory=mem, namespace="maya", search_kwargs={"where": {"speaker": "Jonah"}}
        )
        jonah = retriever.invoke("what did someone buy?")
        maya = retriever.invoke("what did someone buy?", where={"speaker": "Maya"})
        elsewhere = retriever.invoke("what did someone buy?", namespace="nobody")
    assert {d.metadata["speaker"] for d in jonah} == {"Jonah"}
    assert {d.metadata["speaker"] for d in maya} == {"Maya"}
    assert elsewhere == []


def test_the_retriever_composes_in_a_chain(remembered: str, embedder: Embedder) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        retriever = EngramRetriever(memory=mem, namespace="maya", limit=1)
        chain = retriever | RunnableLambda(lambda docs: "\n".join(d.page_content for d in docs))
        assert chain.invoke("where does Maya live now?") == "I moved to Lisbon in February."


def test_ainvoke_awaits_an_async_memory_and_invoke_refuses_it(
    remembered: str, embedder: Embedder
) -> None:
    async def scenario() -> list[Document]:
        async with AsyncMemory(remembered, embedder=embedder) as mem:
            retriever = EngramRetriever(memory=mem, namespace="maya", limit=1)
            with pytest.raises(InvalidInputError, match="async"):
                retriever.invoke("What is the dog called?")
            return await retriever.ainvoke("What is the dog called?")

    (doc,) = asyncio.run(scenario())
    assert doc.page_content == "We adopted a rescue terrier called Pastel."


def test_ainvoke_runs_a_blocking_memory_in_a_thread(remembered: str, embedder: Embedder) -> None:
    with Memory(remembered, embedder=embedder) as mem:
        retriever = EngramRetriever(memory=mem, namespace="maya", limit=1)
        (doc,) = asyncio.run(retriever.ainvoke("the bakery job"))
    assert doc.page_content == "My new job at the bakery starts on Monday."


def test_something_that_is_not_a_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="memory"):
        EngramRetriever(memory="not a memory")
