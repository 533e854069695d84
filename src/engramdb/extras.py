"""The optional features, the extra that installs each, and what a missing one says.

``pip install engramdb`` installs the core: the embedded store, recall,
consolidation, encryption and the ``engram`` command. Five features need an
extra (pyproject.toml, ``[project.optional-dependencies]``)::

    extra     feature                                    packages it imports
    --------  -----------------------------------------  -----------------------------
    server    engram serve, engram mcp                   fastapi, starlette, pydantic,
                                                         uvicorn, httpx, prometheus_client,
                                                         mcp
    client    engramdb.Client                            httpx
    plot      engram curve                               matplotlib
    fp32      the fp32 embedder (embedder "local-fp32")  safetensors
    postgres  the PostgreSQL store (docs/postgres.md)    psycopg, psycopg_pool, pgvector

``needs_extra`` is the one place where a missing optional package becomes an
error: the feature's imports run inside it, and an ImportError of one of its
extra's packages becomes ``MissingExtraError``, one line that names the extra
to install. Any other ImportError (a bug of ours) passes through unchanged.
It does not install anything, and it does not hide a broken core install.
``tests/test_packaging.py`` checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from engramdb.errors import MissingExtraError

__all__ = ["EXTRAS", "needs_extra"]

#: Each extra and the top-level modules of the packages it installs.
EXTRAS: dict[str, tuple[str, ...]] = {
    "client": ("httpx",),
    "fp32": ("safetensors",),
    "langchain": ("langchain_core", "pydantic"),
    "langgraph": ("langgraph",),
    "llamaindex": ("llama_index", "pydantic"),
    "plot": ("matplotlib",),
    "postgres": ("psycopg", "psycopg_pool", "pgvector"),
    "server": ("fastapi", "starlette", "pydantic", "uvicorn", "httpx", "prometheus_client", "mcp"),
}


@contextmanager
def needs_extra(extra: str, feature: str) -> Iterator[None]:
    """Run a feature's imports; a missing package of ``extra`` is a ``MissingExtraError``.

    Every package of the extra is imported first, so a half-installed extra
    fails here, with the others, rather than later inside the feature.
    """
    packages = EXTRAS[extra]
    try:
        for package in packages:
            importlib.import_module(package)
        yield
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in packages:
            raise
        raise MissingExtraError(
            f"{feature} needs the {extra!r} extra ({exc}): pip install 'engramdb[{extra}]'"
        ) from exc
