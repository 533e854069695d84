"""``Client`` and ``AsyncClient``: an engramdb server used exactly like an embedded ``Memory``.

Every method of ``Memory`` but those that act on the store's files, its keys
or this process's objects (``engramdb.options.LOCAL_ONLY`` lists them, each
with its reason: ``backup``, ``export``, ``encrypt``, ``reindex``, ...), with
the same names, parameters and return types (save ``consolidate``'s
``progress`` callback), as ``tests/test_options.py`` checks; and the same
exceptions: the server's error codes are read back through the shared table
(``engramdb.wire``), so ``except NotFoundError`` works on both. Values are
read back from their JSON form by ``engramdb.wire`` too, the module the server
writes them with.
Switching is one line::

    mem = Memory("./engram-data")
    mem = Client("http://127.0.0.1:8765", api_key="eng_...")

``AsyncClient`` has the same methods, each a coroutine, over ``httpx.AsyncClient``
(docs/async.md). Both are one line per method over ``engramdb._requests``, which
builds each method's request and reads its answer: this module only sends.

Two errors only a client sees: ``AccessDeniedError`` (401/403) and
``RateLimitedError`` (429). A server that cannot be reached is a
``StoreError``, as a store that cannot be read is. It needs ``httpx``
(``pip install 'engramdb[client]'``), imported when a client is made; without
it the client raises ``MissingExtraError`` (an ``ImportError``) naming the extra.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from engramdb._requests import Call, Requests
from engramdb.api import MemoryAPI
from engramdb.errors import EngramError, InvalidInputError, RateLimitedError, StoreError
from engramdb.extras import needs_extra
from engramdb.wire import error_class

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncClient", "Client"]

P = ParamSpec("P")
R = TypeVar("R")
_REQUESTS = Requests()


def _blocking(
    build: Callable[Concatenate[Requests, P], Call[R]],
) -> Callable[Concatenate[Client, P], R]:
    """``Client``'s method: send the request ``build`` makes, wait, read the answer."""

    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._send(build(_REQUESTS, *args, **kwargs))

    return _named(method, build, "Client")


def _awaiting(
    build: Callable[Concatenate[Requests, P], Call[R]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]]:
    """``AsyncClient``'s method: the same request, sent without blocking the event loop."""

    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._send(build(_REQUESTS, *args, **kwargs))

    return _named(method, build, "AsyncClient")


F = TypeVar("F", bound=Callable[..., Any])


def _named(method: F, build: Callable[..., Any], owner: str) -> F:
    """``method`` with the name, docstring and signature (``inspect``) of ``build``."""
    functools.update_wrapper(method, build)
    method.__qualname__ = f"{owner}.{build.__name__}"
    return method


class _Base:
    """What both clients share: the URL and headers, and reading an answer."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key is not None:
            self._headers["Authorization"] = f"Bearer {api_key}"

    @staticmethod
    def _content(call: Call[Any]) -> tuple[bytes | None, dict[str, str]]:
        try:
            content = None if call.body is None else json.dumps(call.body).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the request does not serialise to JSON: {exc}") from exc
        return content, {} if content is None else {"Content-Type": "application/json"}

    def _unreachable(self, exc: Exception) -> StoreError:
        return StoreError(f"cannot reach the engramdb server at {self.url}: {exc}")

    @staticmethod
    def _read(call: Call[R], response: httpx.Response) -> R:
        if response.status_code < 400:
            return call.read(response.json())
        raise _error(response)


class Client(_Base, MemoryAPI):
    """A connection to ``engram serve`` at ``url``, authenticated by ``api_key``."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        with needs_extra("client", "engramdb.Client"):
            import httpx
        super().__init__(url, api_key)
        self._http = httpx.Client(
            base_url=self.url, headers=self._headers, timeout=timeout_s, transport=transport
        )
        self._transport_error: type[Exception] = httpx.TransportError

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[R]) -> R:
        if call.method is None:
            return call.read(None)
        content, headers = self._content(call)
        try:
            response = self._http.request(call.method, call.path, content=content, headers=headers)
        except self._transport_error as exc:
            raise self._unreachable(exc) from exc
        return self._read(call, response)

    # The methods, in MemoryAPI's order (engramdb/_requests.py has their bodies).
    add = _blocking(Requests.add)
    add_many = _blocking(Requests.add_many)
    update = _blocking(Requests.update)
    delete = _blocking(Requests.delete)
    delete_where = _blocking(Requests.delete_where)
    forget_namespace = _blocking(Requests.forget_namespace)
    get = _blocking(Requests.get)
    history = _blocking(Requests.history)
    search = _blocking(Requests.search)
    neighbours = _blocking(Requests.neighbours)
    namespaces = _blocking(Requests.namespaces)
    stats = _blocking(Requests.stats)
    consolidate = _blocking(Requests.consolidate)
    facts = _blocking(Requests.facts)
    pin = _blocking(Requests.pin)
    unpin = _blocking(Requests.unpin)
    profile = _blocking(Requests.profile)
    profile_proposals = _blocking(Requests.profile_proposals)
    working = _blocking(Requests.working)
    context = _blocking(Requests.context)
    mood = _blocking(Requests.mood)
    flush = _blocking(Requests.flush)
    retention = _blocking(Requests.retention)
    curve = _blocking(Requests.curve)
    set_budget = _blocking(Requests.set_budget)
    budget = _blocking(Requests.budget)
    set_expiry = _blocking(Requests.set_expiry)
    set_ttl = _blocking(Requests.set_ttl)
    ttl = _blocking(Requests.ttl)
    purge = _blocking(Requests.purge)
    fade = _blocking(Requests.fade)
    feedback = _blocking(Requests.feedback)
    weights = _blocking(Requests.weights)
    reset_weights = _blocking(Requests.reset_weights)
    record_experience = _blocking(Requests.record_experience)
    recall_experiences = _blocking(Requests.recall_experiences)
    teach = _blocking(Requests.teach)
    concepts = _blocking(Requests.concepts)
    retag = _blocking(Requests.retag)
    # last: below it, ``list`` would name this attribute in the class body (docs/scopes.md)
    list = _blocking(Requests.list)


class AsyncClient(_Base):
    """``Client`` for asyncio: the same methods, each a coroutine (docs/async.md)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        with needs_extra("client", "engramdb.AsyncClient"):
            import httpx
        super().__init__(url, api_key)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=self._headers, timeout=timeout_s, transport=transport
        )
        self._transport_error: type[Exception] = httpx.TransportError

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, call: Call[R]) -> R:
        if call.method is None:
            return call.read(None)
        content, headers = self._content(call)
        try:
            response = await self._http.request(
                call.method, call.path, content=content, headers=headers
            )
        except self._transport_error as exc:
            raise self._unreachable(exc) from exc
        return self._read(call, response)

    add = _awaiting(Requests.add)
    add_many = _awaiting(Requests.add_many)
    update = _awaiting(Requests.update)
    delete = _awaiting(Requests.delete)
    delete_where = _awaiting(Requests.delete_where)
    forget_namespace = _awaiting(Requests.forget_namespace)
    get = _awaiting(Requests.get)
    history = _awaiting(Requests.history)
    search = _awaiting(Requests.search)
    neighbours = _awaiting(Requests.neighbours)
    namespaces = _awaiting(Requests.namespaces)
    stats = _awaiting(Requests.stats)
    consolidate = _awaiting(Requests.consolidate)
    facts = _awaiting(Requests.facts)
    pin = _awaiting(Requests.pin)
    unpin = _awaiting(Requests.unpin)
    profile = _awaiting(Requests.profile)
    profile_proposals = _awaiting(Requests.profile_proposals)
    working = _awaiting(Requests.working)
    context = _awaiting(Requests.context)
    mood = _awaiting(Requests.mood)
    flush = _awaiting(Requests.flush)
    retention = _awaiting(Requests.retention)
    curve = _awaiting(Requests.curve)
    set_budget = _awaiting(Requests.set_budget)
    budget = _awaiting(Requests.budget)
    set_expiry = _awaiting(Requests.set_expiry)
    set_ttl = _awaiting(Requests.set_ttl)
    ttl = _awaiting(Requests.ttl)
    purge = _awaiting(Requests.purge)
    fade = _awaiting(Requests.fade)
    feedback = _awaiting(Requests.feedback)
    weights = _awaiting(Requests.weights)
    reset_weights = _awaiting(Requests.reset_weights)
    record_experience = _awaiting(Requests.record_experience)
    recall_experiences = _awaiting(Requests.recall_experiences)
    teach = _awaiting(Requests.teach)
    concepts = _awaiting(Requests.concepts)
    retag = _awaiting(Requests.retag)
    list = _awaiting(Requests.list)


def _error(response: httpx.Response) -> EngramError:
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", f"HTTP {response.status_code}: {response.text[:200]}"
    kind = error_class(code)
    if kind is RateLimitedError:
        retry = response.headers.get("Retry-After")
        return RateLimitedError(message, float(retry) if retry and retry.isdigit() else None)
    if not code and response.status_code >= 500:
        kind = StoreError
    return kind(message)
