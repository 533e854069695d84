"""Shared fixtures: the real embedding model, loaded once per test session."""

from __future__ import annotations

import pytest

# The conformance checks are plain asserts in an installed module: ask pytest to
# rewrite them so a failing check shows its values.
pytest.register_assert_rewrite("engramdb.testing")

from engramdb.config import Settings  # noqa: E402
from engramdb.embed import Embedder, make_embedder  # noqa: E402


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2 (int8 ONNX) behind its cache, warmed up."""
    real = make_embedder(Settings())
    real.embed(["warm up"])
    return real
