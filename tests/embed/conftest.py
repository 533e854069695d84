"""Shared, loaded-once embedders for the embed tests (real models, no mocks)."""

from __future__ import annotations

import pytest

from engramdb.embed import MiniLMEmbedder, NumpyMiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(batch_size=4)  # small: the test texts span several batches
    embedder.load()
    return embedder


@pytest.fixture(scope="session")
def minilm_fp32() -> NumpyMiniLMEmbedder:
    embedder = NumpyMiniLMEmbedder()
    embedder.load()
    return embedder
