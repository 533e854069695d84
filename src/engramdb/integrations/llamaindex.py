"""LlamaIndex: ``EngramRetriever`` over ``search`` and ``EngramMemoryBlock`` over ``add``
and ``context`` (docs/integrations/llamaindex.md).

``EngramRetriever`` is a ``BaseRetriever``: each hit becomes a
``NodeWithScore`` whose node is a ``TextNode`` (the memory's text, its id, its
JSON form as metadata, hidden from the LLM and the embedder but for
``occurred_at`` and ``speaker``) and whose score is the hit's calibrated
``relevance``, a probability, so a cutoff such as
``SimilarityPostprocessor(similarity_cutoff=0.5)`` means what it says.

``EngramMemoryBlock`` is a long-term block of LlamaIndex's ``Memory``: the
messages the short-term memory lets go are remembered (``add``, one memory
per user or assistant message, speaker its role), and at each turn the block
answers with ``context`` for the latest user message, rendered as text
within ``budget_tokens`` (docs/context.md). Needs the ``llamaindex`` extra.
"""

from __future__ import annotations

from typing import Any

from engramdb.extras import needs_extra
from engramdb.integrations._calls import AnyMemory, awaited, blocking, hit_metadata
from engramdb.model import ContextBundle, Hit

with needs_extra("llamaindex", "engramdb.integrations.llamaindex"):
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.memory import BaseMemoryBlock
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from pydantic import Field

__all__ = ["EngramMemoryBlock", "EngramRetriever"]

#: The metadata keys a node shows the LLM and the embedder; the rest stays for code.
SHOWN = ("occurred_at", "speaker")
#: The roles whose messages a memory block remembers.
SPOKEN = ("user", "assistant")


class EngramRetriever(BaseRetriever):
    """``EngramRetriever(mem, namespace="user-42", limit=5, where={...})``: any other
    keyword is an option of ``search`` for every query (docs/recall.md)."""

    def __init__(
        self,
        memory: AnyMemory,
        *,
        namespace: str = "default",
        limit: int = 10,
        **search_kwargs: Any,
    ) -> None:
        super().__init__()
        self.memory = memory
        self.options = {"namespace": namespace, "limit": limit, **search_kwargs}

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = blocking(self.memory, "search", query_bundle.query_str, **self.options)
        return [_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await awaited(self.memory, "search", query_bundle.query_str, **self.options)
        return [_node(hit) for hit in hits]


def _node(hit: Hit) -> NodeWithScore:
    metadata = hit_metadata(hit)
    hidden = [key for key in metadata if key not in SHOWN]
    node = TextNode(
        text=hit.engram.text,
        id_=hit.engram.id,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
    )
    return NodeWithScore(node=node, score=hit.relevance)


class EngramMemoryBlock(BaseMemoryBlock[str]):
    """A long-term memory block: ``EngramMemoryBlock(memory=mem, namespace="user-42")``."""

    name: str = "engramdb"
    memory: AnyMemory
    namespace: str = "default"
    session: str | None = Field(
        default=None, description="The session the remembered messages belong to."
    )
    budget_tokens: int = Field(default=500, description="Tokens the block's text takes at most.")

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        said = [m for m in messages or [] if _role(m) == "user" and (m.content or "").strip()]
        if not said:
            return ""
        bundle: ContextBundle = await awaited(
            self.memory,
            "context",
            said[-1].content,
            namespace=self.namespace,
            budget_tokens=self.budget_tokens,
        )
        return bundle.render()

    async def _aput(self, messages: list[ChatMessage]) -> None:
        items = [
            {"text": m.content, "speaker": _role(m), "session": self.session}
            for m in messages
            if _role(m) in SPOKEN and (m.content or "").strip()
        ]
        if items:
            await awaited(self.memory, "add_many", items, namespace=self.namespace)


def _role(message: ChatMessage) -> str:
    return str(getattr(message.role, "value", message.role))
