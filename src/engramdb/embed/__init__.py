"""Embedders: the protocol, the packaged local model, an OpenAI-compatible client.

``make_embedder`` turns ``Settings`` into an embedder; nothing here loads a
model or opens a connection until the first ``embed``.
"""

from __future__ import annotations

import os

from engramdb.config import Settings
from engramdb.embed.base import Embedder, Vectors
from engramdb.embed.cache import CachedEmbedder
from engramdb.embed.http import OpenAIEmbedder
from engramdb.embed.local import MiniLMEmbedder
from engramdb.embed.minilm import DIMS
from engramdb.embed.reference import NumpyMiniLMEmbedder
from engramdb.errors import InvalidInputError

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "MiniLMEmbedder",
    "NumpyMiniLMEmbedder",
    "OpenAIEmbedder",
    "Vectors",
    "make_embedder",
]

# The names Settings.embedder accepts (not in __all__: it holds classes and functions only).
EMBEDDERS = ("local", "local-fp32", "openai")


def make_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` asks for, behind an in-process cache.

    ``"local"``: packaged all-MiniLM-L6-v2, int8 ONNX (the default).
    ``"local-fp32"``: the same model in full precision with numpy (slower).
    ``"openai"``: an OpenAI-compatible endpoint; needs ``embedder_url`` and
    ``embedder_model``; the API key is read from the environment variable named
    by ``embedder_api_key_env``, if it is set (this runs at entry points only).
    """
    inner: Embedder
    if settings.embedder == "local":
        inner = MiniLMEmbedder(batch_size=settings.embed_batch_size)
    elif settings.embedder == "local-fp32":
        inner = NumpyMiniLMEmbedder(batch_size=settings.embed_batch_size)
    elif settings.embedder == "openai":
        if not settings.embedder_url or not settings.embedder_model:
            raise InvalidInputError(
                "embedder 'openai' needs embedder_url and embedder_model "
                "(ENGRAMDB_EMBEDDER_URL, ENGRAMDB_EMBEDDER_MODEL)"
            )
        inner = OpenAIEmbedder(
            settings.embedder_url,
            settings.embedder_model,
            api_key=os.environ.get(settings.embedder_api_key_env) or None,
            # the stores hold vectors of the packaged model's size: a model of another
            # size is an EmbeddingError at its first answer, not a crash at the write
            # (docs/integrations/openai-compatible.md)
            dims=DIMS,
            batch_size=settings.embed_batch_size,
        )
    else:
        raise InvalidInputError(
            f"unknown embedder {settings.embedder!r}; expected one of {', '.join(EMBEDDERS)}"
        )
    return CachedEmbedder(inner)
