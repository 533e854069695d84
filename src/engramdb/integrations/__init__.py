"""Adapters that put engramdb inside agent frameworks (docs/integrations/README.md).

Each module needs its framework's package, an optional extra, and raises
``MissingExtraError`` naming the extra when it is missing: ``langchain``
(a LangChain ``BaseRetriever`` over ``search``) and ``llamaindex`` (a
LlamaIndex retriever, and a memory block over ``add`` and ``context``). They
use the public ``engramdb`` names only, and take any ``MemoryAPI`` (a
``Memory`` or a ``Client``) or its async form (``AsyncMemory``,
``AsyncClient``): the framework's async calls then await it natively.
"""
