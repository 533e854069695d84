"""LangChain: ``EngramRetriever``, a ``BaseRetriever`` over ``search``
(docs/integrations/langchain.md).

Each hit becomes a ``Document`` whose ``page_content`` is the memory's text,
``id`` its id and ``metadata`` its JSON form with ``score``, ``rank`` and
``relevance``. ``invoke`` and ``ainvoke`` both work on a blocking memory
(``ainvoke`` runs it in a worker thread); an ``AsyncMemory`` or
``AsyncClient`` is awaited by ``ainvoke`` and refused by ``invoke``. Needs
the ``langchain`` extra (``langchain-core``).
"""

from __future__ import annotations

from typing import Any

from engramdb.extras import needs_extra
from engramdb.integrations._calls import AnyMemory, awaited, blocking, hit_metadata
from engramdb.model import Hit

with needs_extra("langchain", "engramdb.integrations.langchain"):
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict, Field

__all__ = ["EngramRetriever"]


class EngramRetriever(BaseRetriever):
    """Retrieve memories: ``EngramRetriever(memory=mem, namespace="user-42", limit=5)``.

    ``search_kwargs`` are more options of ``search`` for every query (``where``,
    ``kinds``, ``min_relevance``, ``reinforce``, ...: docs/recall.md);
    keyword arguments of ``invoke`` override them for one query.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: AnyMemory
    namespace: str = "default"
    limit: int = 10
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    def _options(self, given: dict[str, Any]) -> dict[str, Any]:
        return {"namespace": self.namespace, "limit": self.limit, **self.search_kwargs, **given}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = blocking(self.memory, "search", query, **self._options(kwargs))
        return [_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await awaited(self.memory, "search", query, **self._options(kwargs))
        return [_document(hit) for hit in hits]


def _document(hit: Hit) -> Document:
    return Document(page_content=hit.engram.text, id=hit.engram.id, metadata=hit_metadata(hit))
