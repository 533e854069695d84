"""``Client``: an engramdb server used exactly like an embedded ``Memory``.

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

Two errors only a client sees: ``AccessDeniedError`` (401/403) and
``RateLimitedError`` (429). A server that cannot be reached is a
``StoreError``, as a store that cannot be read is. It needs ``httpx``
(``pip install 'engramdb[client]'``), imported when a Client is made; without
it the Client raises ``MissingExtraError`` (an ``ImportError``) naming the extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from engramdb import wire
from engramdb.api import MemoryAPI
from engramdb.config import Limits
from engramdb.errors import (
    EngramError,
    InvalidInputError,
    RateLimitedError,
    StoreError,
)
from engramdb.extras import needs_extra
from engramdb.filters import parse
from engramdb.model import (
    Budget,
    ConsolidationReport,
    ContextBundle,
    Engram,
    Fact,
    Hit,
    Mood,
    NamespaceStats,
    Version,
)
from engramdb.validation import check_id, check_namespace
from engramdb.wire import error_class

if TYPE_CHECKING:
    import httpx

__all__ = ["Client"]

DEFAULT_NAMESPACE = "default"
_LIMITS = Limits()  # the server checks again with its own


class Client(MemoryAPI):
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
        headers = {"Accept": "application/json"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout_s, transport=transport
        )
        self._transport_error: type[Exception] = httpx.TransportError

    # -- lifecycle --------------------------------------------------------------

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

    # -- writes -----------------------------------------------------------------

    def add(
        self,
        text: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str | None = None,
        speaker: str | None = None,
        occurred_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        importance: float | None = None,
        emotion: str | None = None,
        idempotency_key: str | None = None,
        embed: str | None = None,
    ) -> Engram:
        """Remember one experience; returns it as stored, or the memory already holding
        it with ``repeated=True`` (docs/repetition.md). ``embed="later"``: the server
        embeds it after it returns (docs/write-path.md)."""
        body = _item(
            {
                "text": text,
                "session": session,
                "speaker": speaker,
                "occurred_at": occurred_at,
                "metadata": metadata,
                "importance": importance,
                "emotion": emotion,
                "idempotency_key": idempotency_key,
                "embed": embed,
            }
        )
        return wire.from_json(Engram, self._call("POST", _ns(namespace, "engrams"), body))

    def add_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        embed: str | None = None,
    ) -> list[Engram]:
        """Remember several experiences in one transaction (all or none); ``embed`` as
        ``add``'s, for the whole batch."""
        if isinstance(items, (str, bytes, Mapping)):
            raise InvalidInputError("items must be an iterable of mappings (one per memory)")
        batch = [_item(item) for item in items]
        if not batch:
            return []
        body: dict[str, Any] = {"items": batch}
        if embed is not None:
            body["embed"] = embed
        found = self._call("POST", _ns(namespace, "engrams/batch"), body)
        return [wire.from_json(Engram, e) for e in found["engrams"]]

    def update(
        self,
        id: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        text: str | None = None,
        speaker: str | None = None,
        occurred_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Engram:
        """Write a new version; the old one stays in ``history`` with its validity closed."""
        fields = {
            "text": text,
            "speaker": speaker,
            "occurred_at": occurred_at,
            "metadata": metadata,
            "now": now,
        }
        body = {k: wire.encode(v, k) for k, v in fields.items() if v is not None}
        found = self._call("PATCH", _ns(namespace, "engrams", _segment(id, "id")), body)
        return wire.from_json(Engram, found)

    def delete(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Remove a memory with its whole history and index entries."""
        self._call("DELETE", _ns(namespace, "engrams", _segment(id, "id")))

    def forget_namespace(self, namespace: str) -> int:
        """Erase a namespace entirely; returns how many memories it held."""
        return int(self._call("DELETE", _ns(namespace))["forgotten"])

    # -- reads ------------------------------------------------------------------

    def get(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Engram:
        return wire.from_json(
            Engram, self._call("GET", _ns(namespace, "engrams", _segment(id, "id")))
        )

    def history(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> list[Version]:
        """Every version of a memory, oldest first, with validity intervals."""
        found = self._call("GET", _ns(namespace, "engrams", _segment(id, "id"), "history"))
        return [wire.from_json(Version, v, engram_id=found["id"]) for v in found["versions"]]

    def search(
        self,
        query: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        limit: int = 10,
        now: datetime | None = None,
        neighbours: int = 0,
        include_dormant: bool = False,
        reinforce: bool = True,
        emotion: str | Iterable[str] | None = None,
        mood_congruent: bool = False,
        context: Sequence[str] | str | None = None,
        as_of: datetime | None = None,
        kinds: str | Iterable[str] | None = None,
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        min_relevance: float = 0.0,
    ) -> list[Hit]:
        """The memories most relevant to ``query``, best first, each explained."""
        # Every option goes as sent (a new one is one more entry); the server checks them.
        options = {
            "limit": limit,
            "now": now,
            "neighbours": neighbours,
            "include_dormant": include_dormant,
            "reinforce": reinforce,
            "emotion": emotion if emotion is None or isinstance(emotion, str) else list(emotion),
            "mood_congruent": mood_congruent,
            "context": context if context is None or isinstance(context, str) else list(context),
            "as_of": as_of,
            "kinds": [kinds] if isinstance(kinds, str) else None if kinds is None else list(kinds),
            **_filters(where, occurred_after, occurred_before),
            "min_relevance": min_relevance,
        }
        body = {"query": query, **{k: wire.encode(v, k) for k, v in options.items()}}
        found = self._call("POST", _ns(namespace, "search"), body)
        return [wire.from_json(Hit, h) for h in found["hits"]]

    def consolidate(
        self, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None
    ) -> ConsolidationReport:
        """Turn the namespace's new episodes into facts and summaries; idempotent."""
        body = {} if now is None else {"now": wire.encode(now, "now")}
        found = self._call("POST", _ns(namespace, "consolidate"), body)
        return wire.from_json(ConsolidationReport, found)

    def facts(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        subject: str | None = None,
        attribute: str | None = None,
        as_of: datetime | None = None,
    ) -> list[Fact]:
        """Consolidated facts, every past value included (``Memory.facts``)."""
        params = {"subject": subject, "attribute": attribute, "as_of": wire.encode(as_of, "as_of")}
        found = self._call("GET", _query(_ns(namespace, "facts"), params))
        return [wire.from_json(Fact, f) for f in found["facts"]]

    # -- memory dynamics (docs/dynamics.md) ------------------------------------------------

    def flush(self) -> int:
        """Have the server write its queued recalls now (an admin key); memories updated."""
        return int(self._call("POST", "/v1/flush")["flushed"])

    def retention(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None
    ) -> float:
        """R(now) of a memory on its forgetting curve (``Memory.retention``)."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "retention")
        return float(self._call("GET", _query(path, {"now": wire.encode(now, "now")}))["retention"])

    def curve(
        self,
        id: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        days: float = 365.0,
        points: int = 200,
    ) -> tuple[list[datetime], list[float]]:
        """A memory's forgetting curve from its last use: times and R values."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "curve")
        found = self._call("GET", _query(path, {"days": days, "points": points}))
        return [wire.time_from_json(t, "times") for t in found["times"]], list(found["retention"])

    def neighbours(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, before: int = 1, after: int = 1
    ) -> list[Engram]:
        """The turns around a memory in its session (not including it), in order."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "neighbours")
        found = self._call("GET", _query(path, {"before": before, "after": after}))
        return [wire.from_json(Engram, e) for e in found["neighbours"]]

    def set_budget(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        max_memories: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        """Store the namespace's budget on the server; both None removes it."""
        body = {"max_memories": max_memories, "max_bytes": max_bytes}
        self._call("PUT", _ns(namespace, "budget"), body)

    def budget(self, *, namespace: str = DEFAULT_NAMESPACE) -> Budget | None:
        """The namespace's stored budget, or None when it has none."""
        found = self._call("GET", _ns(namespace, "budget"))
        budget = wire.from_json(Budget, found)
        return None if budget == Budget() else budget

    def fade(self, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None) -> int:
        """Make dormant what has faded at ``now`` or exceeds the budget; how many did."""
        body = {} if now is None else {"now": wire.encode(now, "now")}
        return int(self._call("POST", _ns(namespace, "fade"), body)["dormant"])

    # -- working memory and context (docs/context.md) -----------------------------------

    def context(
        self,
        query: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str | None = None,
        budget_tokens: int = 1000,
        now: datetime | None = None,
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        min_relevance: float = 0.0,
    ) -> ContextBundle:
        """What to put in a prompt now, within ``budget_tokens`` (``Memory.context``)."""
        options = {
            "now": now,
            **_filters(where, occurred_after, occurred_before),
            "min_relevance": min_relevance,
        }
        body = {
            "query": query,
            "session": session,
            "budget_tokens": budget_tokens,
            **{k: wire.encode(v, k) for k, v in options.items()},
        }
        found = self._call("POST", _ns(namespace, "context"), body)
        return wire.from_json(ContextBundle, found)

    def working(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str,
        max_turns: int = 20,
        max_tokens: int | None = None,
    ) -> list[Engram]:
        """The session's latest turns, oldest first (``Memory.working``)."""
        params = {"max_turns": str(max_turns)}
        if max_tokens is not None:
            params["max_tokens"] = str(max_tokens)
        path = _ns(namespace, f"sessions/{quote(session, safe='')}/working")
        found = self._call("GET", f"{path}?{urlencode(params)}")
        return [wire.from_json(Engram, t) for t in found["turns"]]

    def mood(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        window: timedelta = timedelta(days=7),
        now: datetime | None = None,
    ) -> Mood:
        """Valence and arousal over the last ``window`` (``Memory.mood``)."""
        params = {"window_days": str(window.total_seconds() / 86_400)}
        if now is not None:
            params["now"] = wire.time_to_json(now, "now")
        found = self._call("GET", f"{_ns(namespace, 'mood')}?{urlencode(params)}")
        return wire.from_json(Mood, found)

    def namespaces(self) -> list[str]:
        return list(self._call("GET", "/v1/namespaces")["namespaces"])

    def stats(self, *, namespace: str = DEFAULT_NAMESPACE) -> NamespaceStats:
        return wire.from_json(NamespaceStats, self._call("GET", _ns(namespace, "stats")))

    # -- the wire ---------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            content = None if body is None else json.dumps(body).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the request does not serialise to JSON: {exc}") from exc
        headers = {} if content is None else {"Content-Type": "application/json"}
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except self._transport_error as exc:
            raise StoreError(f"cannot reach the engramdb server at {self.url}: {exc}") from exc
        if response.status_code < 400:
            return response.json()
        raise _error(response)


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


def _ns(namespace: str, *parts: str) -> str:
    return "/v1/namespaces/" + "/".join([_segment(namespace, "namespace"), *parts])


def _segment(value: object, name: str) -> str:
    """A namespace or id checked as ``Memory`` checks it, before it becomes a path segment
    (a "/" or ".." in it would otherwise name another route); then percent-encoded."""
    checked = check_namespace(value, _LIMITS) if name == "namespace" else check_id(value)
    return quote(checked, safe="")


def _query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the parameters that are not None as its query string."""
    given = {k: str(v) for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(given)}" if given else path


def _filters(
    where: Mapping[str, Any] | None, after: datetime | None, before: datetime | None
) -> dict[str, Any]:
    """A search's filters as sent (docs/filters.md). ``where`` is read here as ``Memory``
    reads it, so a value JSON would change (a datetime would turn into a string) is
    refused as there, not sent as something else; the server checks it all again."""
    parse(where)
    return {"where": where, "occurred_after": after, "occurred_before": before}


def _item(item: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"an item must be a mapping, got {type(item).__name__}")
    return {k: wire.encode(v, k) for k, v in item.items() if v is not None or k == "text"}
