"""A client for any OpenAI-compatible ``/v1/embeddings`` endpoint.

It owns the wire format (request body, response parsing and checks),
batching, bounded retries on 429 and 5xx, and L2 normalisation of what comes
back. It uses only the standard library, so the core install stays small, and
it is never constructed unless ``Settings(embedder="openai")`` asks for it.
It does not read the environment: the caller passes the API key.

Works with OpenAI, Ollama (``http://localhost:11434/v1``), vLLM, LM Studio and
hosted services speaking the same format.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from engramdb.embed.base import Vectors
from engramdb.errors import EmbeddingError, InvalidInputError

if TYPE_CHECKING:
    import urllib.request

__all__ = ["OpenAIEmbedder", "endpoint_url"]

_TRIES = 3
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_S = 10.0
_BODY_EXCERPT_CHARS = 300


def openai_endpoint(url: str, route: str, what: str) -> str:
    """The ``route`` endpoint of an OpenAI-compatible API at ``url``.

    ``url`` is a host, a ``.../v1`` base or the endpoint itself; ``what`` names
    the caller's setting in error messages.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"{what} URL must be an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        # The URL appears in error messages; credentials belong in the API key.
        raise InvalidInputError(f"{what} URL must not contain credentials; pass api_key")
    base = url.rstrip("/")
    if base.endswith("/" + route):
        return base
    if base.endswith("/v1"):
        return f"{base}/{route}"
    return f"{base}/v1/{route}"


def endpoint_url(url: str) -> str:
    """The embeddings endpoint for ``url``: a base (``.../v1`` or host) or the endpoint."""
    return openai_endpoint(url, "embeddings", "embedder")


class OpenAIEmbedder:
    """Embeds by POSTing ``{"model", "input"}`` batches to an embeddings endpoint.

    ``dims`` is checked on every response; when not given it is taken from the
    first response, and reading ``dims`` before any ``embed`` sends one probe
    request. On Python 3.11 ``isinstance(x, Embedder)`` reads ``dims``, so that
    check probes too; pass ``dims`` to avoid it. Vectors are L2-normalised
    here, since not every server does it. Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        dims: int | None = None,
        timeout_s: float = 30.0,
        batch_size: int = 64,
        backoff_s: float = 0.5,
    ) -> None:
        if not model:
            raise InvalidInputError("an embedding model name is required")
        if dims is not None and dims < 1:
            raise InvalidInputError(f"dims must be at least 1, got {dims}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if timeout_s <= 0:
            raise InvalidInputError(f"timeout_s must be positive, got {timeout_s}")
        self.url = endpoint_url(url)
        self.model = model
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.backoff_s = backoff_s
        self._api_key = api_key
        self._dims = dims
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return f"openai:{self.model}"

    @property
    def dims(self) -> int:
        if self._dims is None:
            self.embed(["dimension probe"])  # the first response sets _dims
        if self._dims is None:  # pragma: no cover - embed raises before this
            raise EmbeddingError(f"{self.url} did not reveal the vector size")
        return self._dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        parts = [
            self._embed_batch(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _embed_batch(self, texts: list[str]) -> Vectors:
        payload = self._post({"model": self.model, "input": texts})
        vectors = self._parse(payload, len(texts))
        with self._lock:
            if self._dims is None:
                self._dims = vectors.shape[1]
            dims = self._dims
        if vectors.shape[1] != dims:
            raise EmbeddingError(
                f"{self.url} returned {vectors.shape[1]}-dim vectors for {self.model!r}, "
                f"expected {dims}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(np.isfinite(vectors)) or np.any(norms == 0):
            raise EmbeddingError(f"{self.url} returned a zero or non-finite vector")
        unit: Vectors = (vectors / norms).astype(np.float32)
        return unit

    def _post(self, body: dict[str, Any]) -> Any:
        # Imported here: urllib.request pulls in http.client, email and ssl (~55 ms),
        # which `import engramdb` should not pay when this client is not configured.
        import urllib.error
        import urllib.request

        request = self._request(json.dumps(body).encode("utf-8"))
        for attempt in range(1, _TRIES + 1):
            try:
                # The scheme was checked to be http(s) in endpoint_url.
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:_BODY_EXCERPT_CHARS].decode("utf-8", "replace")
                if exc.code in _RETRY_STATUSES and attempt < _TRIES:
                    self._sleep(attempt, exc.headers.get("Retry-After"))
                    continue
                raise EmbeddingError(
                    f"{self.url} answered HTTP {exc.code} for model {self.model!r}"
                    f"{' after ' + str(attempt) + ' tries' if attempt > 1 else ''}: {detail}"
                ) from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < _TRIES:
                    self._sleep(attempt, None)
                    continue
                reason = getattr(exc, "reason", exc)
                raise EmbeddingError(
                    f"cannot reach {self.url} after {attempt} tries: {reason}"
                ) from exc
            try:
                return json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise EmbeddingError(
                    f"{self.url} returned a body that is not JSON: {raw[:_BODY_EXCERPT_CHARS]!r}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, data: bytes) -> urllib.request.Request:
        import urllib.request

        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # The scheme was checked to be http(s) in endpoint_url.
        return urllib.request.Request(  # noqa: S310
            self.url, data=data, headers=headers, method="POST"
        )

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_s * 2 ** (attempt - 1)
        if retry_after is not None:
            # An HTTP-date Retry-After is ignored: the exponential delay is good enough.
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER_S))
        time.sleep(delay)

    def _parse(self, payload: Any, count: int) -> Vectors:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise EmbeddingError(f"{self.url} returned JSON without a 'data' list")
        if len(data) != count:
            raise EmbeddingError(f"{self.url} returned {len(data)} embeddings for {count} texts")
        rows: list[Any] = [None] * count
        for position, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("embedding"), list):
                raise EmbeddingError(f"{self.url} returned an item without an 'embedding' list")
            index = item.get("index", position)
            if not isinstance(index, int) or not 0 <= index < count or rows[index] is not None:
                raise EmbeddingError(f"{self.url} returned a bad or repeated index {index!r}")
            rows[index] = item["embedding"]
        try:
            vectors = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"{self.url} returned embeddings that are not equal-length lists of numbers"
            ) from exc
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise EmbeddingError(f"{self.url} returned embeddings of shape {vectors.shape}")
        return vectors.astype(np.float32)

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(url={self.url!r}, model={self.model!r}, dims={self._dims})"
