"""Adapters that put engramdb inside agent frameworks (docs/integrations/README.md).

Each module needs its framework's package, an optional extra, and raises
``MissingExtraError`` naming the extra when it is missing: ``langchain``
(a LangChain ``BaseRetriever`` over ``search``), ``llamaindex`` (a
LlamaIndex retriever, and a memory block over ``add`` and ``context``) and
``langgraph`` (a LangGraph ``BaseStore`` whose items are memories). They
use the public ``engramdb`` names only, and take any ``MemoryAPI`` (a
``Memory`` or a ``Client``) or its async form (``AsyncMemory``,
``AsyncClient``): the framework's async calls then await it natively. The
LangGraph store takes the blocking form only, and runs it in a worker thread
for LangGraph's async calls.
"""
