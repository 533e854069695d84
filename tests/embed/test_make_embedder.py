"""make_embedder: Settings in, a cached embedder out; and the package's exports."""

from __future__ import annotations

import pytest

import engramdb.embed
from engramdb.config import Settings
from engramdb.embed import (
    CachedEmbedder,
    MiniLMEmbedder,
    NumpyMiniLMEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from engramdb.errors import InvalidInputError


def test_all_is_sorted_and_importable() -> None:
    names = engramdb.embed.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(engramdb.embed, name)


@pytest.mark.parametrize(
    ("name", "inner_type", "model_id"),
    [
        ("local", MiniLMEmbedder, "all-MiniLM-L6-v2/int8-onnx"),
        ("local-fp32", NumpyMiniLMEmbedder, "all-MiniLM-L6-v2/fp32-numpy"),
    ],
)
def test_local_embedders_are_cached(name: str, inner_type: type, model_id: str) -> None:
    embedder = make_embedder(Settings(embedder=name, embed_batch_size=16))
    assert isinstance(embedder, CachedEmbedder)
    assert isinstance(embedder.inner, inner_type)
    assert embedder.inner.batch_size == 16
    assert embedder.model_id == model_id
    assert embedder.dims == 384


def test_openai_reads_key_from_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_EMBED_KEY", "sk-from-env")
    settings = Settings(
        embedder="openai",
        embedder_url="http://localhost:11434/v1",
        embedder_model="nomic-embed-text",
        embedder_api_key_env="MY_EMBED_KEY",
    )
    embedder = make_embedder(settings)
    assert isinstance(embedder, CachedEmbedder)
    inner = embedder.inner
    assert isinstance(inner, OpenAIEmbedder)
    assert inner.model_id == "openai:nomic-embed-text"
    assert inner.url == "http://localhost:11434/v1/embeddings"
    assert inner._api_key == "sk-from-env"


def test_openai_without_key_sends_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGRAMDB_EMBEDDER_API_KEY", raising=False)
    settings = Settings(embedder="openai", embedder_url="http://h/v1", embedder_model="m")
    inner = make_embedder(settings)
    assert isinstance(inner, CachedEmbedder)
    assert isinstance(inner.inner, OpenAIEmbedder)
    assert inner.inner._api_key is None


@pytest.mark.parametrize(
    "settings",
    [
        Settings(embedder="openai", embedder_model="m"),
        Settings(embedder="openai", embedder_url="http://h/v1"),
    ],
)
def test_openai_needs_url_and_model(settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="embedder_url and embedder_model"):
        make_embedder(settings)


def test_unknown_embedder_name_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unknown embedder 'bert'"):
        make_embedder(Settings(embedder="bert"))
