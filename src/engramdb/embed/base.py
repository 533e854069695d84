"""The Embedder protocol: text in, unit-length float32 vectors out.

An embedder names its model (``model_id``) and vector size (``dims``); both are
stored with every vector so a store never mixes vectors of two models. This
module owns the protocol only: models live in ``local``/``reference``/``http``,
the cache in ``cache``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors"]

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dims)``."""

    @property
    def model_id(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...
