"""Reads across the scopes of a store: namespaces, cross-namespace search, listing.

``Scopes`` is a part of the ``Memory`` facade (it inherits it): the namespaces
a store holds and their counts; ``search(namespaces=...)`` and
``search(namespace_prefix=...)``, which search each namespace as a search of one
does (its own filters, data key and indexes) and merge the hits by their
calibrated ``relevance``, the one score that means the same in every namespace
(``recall.relevance``); and ``list``, a namespace's memories page by page in
the order of event or ingest time, with an opaque cursor (docs/scopes.md).

Validation is ``engramdb.validation``'s; the SQL of a page is each store's
(``store.paging``). Which namespaces an API key may see is the edges' business
(``security.keys.ApiKey.readable``): a ``Memory`` has no keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from engramdb.clock import Clock, from_iso
from engramdb.config import Settings
from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.errors import InvalidInputError, LimitExceededError
from engramdb.filters import Filter
from engramdb.model import Engram, Hit, NamespaceStats, Page
from engramdb.options import LIST_ORDERS, MAX_NAMESPACES
from engramdb.recall.engine import SearchRequest
from engramdb.recall.followup import Turn
from engramdb.store import Store
from engramdb.store.paging import Order, PageQuery
from engramdb.validation import (
    check_filter,
    check_flag,
    check_kinds,
    check_limit,
    check_many,
    check_namespace,
)
from engramdb.wire import time_to_json

__all__ = ["Scopes"]

_CURSOR_CHARS = 512  # a cursor is far shorter; a longer one is not ours


class Scopes(ABC):
    """What ``Memory`` reads across namespaces, and a namespace page by page."""

    settings: Settings
    _store: Store
    _clock: Clock
    _read_only: bool

    @abstractmethod
    def _ranked(self, request: SearchRequest) -> list[Hit]: ...

    @abstractmethod
    def _dynamics(self) -> DynamicsKeeper: ...

    @abstractmethod
    def _seen(self, namespace: str, engrams: Iterable[Engram]) -> dict[str, Engram]: ...

    @abstractmethod
    def _context_turns(self, context: object, namespace: str) -> tuple[Turn, ...]: ...

    def namespaces(self) -> list[str]:
        """The namespaces that hold memories, sorted."""
        return self._store.namespaces()

    def stats(self, *, namespace: str = "default") -> NamespaceStats:
        return self._store.stats(check_namespace(namespace, self.settings.limits))

    # -- search across namespaces (docs/scopes.md) --------------------------------

    def _scope(
        self, namespace: str, namespaces: object, namespace_prefix: object
    ) -> tuple[str, ...] | None:
        """The namespaces a search reads, sorted; None: ``namespace`` alone."""
        if namespaces is None and namespace_prefix is None:
            return None
        if namespaces is not None and namespace_prefix is not None:
            raise InvalidInputError("give namespaces or namespace_prefix, not both")
        if namespace != "default":
            raise InvalidInputError(
                "give namespace, or namespaces / namespace_prefix to search several, not both"
            )
        limits = self.settings.limits
        if namespace_prefix is not None:
            prefix = check_namespace(namespace_prefix, limits)  # a prefix of a name is one
            found = tuple(n for n in self._store.namespaces() if n.startswith(prefix))
        else:
            listed = list(check_many(namespaces, "namespaces", "namespace names"))
            found = tuple(sorted({check_namespace(n, limits) for n in listed}))
        if len(found) > MAX_NAMESPACES:
            raise LimitExceededError(
                f"the search would read {len(found)} namespaces; the most is {MAX_NAMESPACES}"
            )
        return found

    def _searched(
        self, request: SearchRequest, scope: tuple[str, ...] | None, context: object
    ) -> list[Hit]:
        """The hits of one namespace, or of several ranked by relevance on one scale: each
        namespace's best ``limit`` merged, ties by namespace then by rank in it."""
        if scope is None:
            return self._ranked(request)
        if request.concept is not None:
            raise InvalidInputError("concept searches one namespace (it is taught in one)")
        found: list[tuple[float, str, int, Hit]] = []
        for namespace in scope:  # each by its own learned weights, its own search id
            asked = replace(request, namespace=namespace)
            if isinstance(context, str):  # a session id: that session of each namespace
                asked = replace(asked, context=self._context_turns(context, namespace))
            found += [(-h.relevance, namespace, h.rank, h) for h in self._ranked(asked)]
        found.sort(key=lambda item: item[:3])
        return [replace(h, rank=i) for i, (*_, h) in enumerate(found[: request.limit], 1)]

    def _reinforced(self, hits: Sequence[Hit], now: datetime) -> None:
        """Count the hits as recalled, in the namespace of each."""
        keeper = self._dynamics()
        for namespace in sorted({h.engram.namespace for h in hits}):
            ids = [h.engram.id for h in hits if h.engram.namespace == namespace]
            keeper.recalled(namespace, ids, now)

    # -- listing (docs/scopes.md, "Listing"); ``list`` comes last: below it, the name
    # would be the method's in this class's annotations, not the builtin ------------

    def list(
        self,
        *,
        namespace: str = "default",
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        kinds: str | Iterable[str] | None = None,
        order: str = "occurred_at",
        descending: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """A page of the namespace's memories in ``order`` (``occurred_at`` or
        ``recorded_at``; ``descending``: latest first), ties in the order they were
        stored; ``where``, ``occurred_after``, ``occurred_before`` filter as search's do
        (docs/filters.md) and ``kinds`` (default: every kind, dormant memories too).
        Pass the page's ``next_cursor`` as ``cursor`` for the next one: each memory
        comes once, in order, however many are written meanwhile (docs/scopes.md)."""
        limits = self.settings.limits
        if order not in LIST_ORDERS:
            raise InvalidInputError(f"order must be one of {', '.join(LIST_ORDERS)}, got {order!r}")
        column: Order = "recorded_at" if order == "recorded_at" else "occurred_at"
        query = PageQuery(
            namespace=check_namespace(namespace, limits),
            order=column,
            descending=check_flag(descending, "descending"),
            limit=check_limit(limit, limits),
            where=check_filter(where, occurred_after, occurred_before),
            kinds=check_kinds(kinds),
        )
        if cursor is not None:
            query = replace(query, after=_position(cursor, query))
        asked = replace(query, limit=query.limit + 1)
        now = self._clock.now()
        if self._store.expired(query.namespace, now, 1):  # left out as the page is read
            asked = replace(asked, where=replace(query.where or Filter(), unexpired_at=now))
        found = self._store.page(asked)
        shown = found[: query.limit]
        seen = self._seen(query.namespace, [k.engram for k in shown])
        return Page(
            namespace=query.namespace,
            engrams=tuple(seen[k.engram.id] for k in shown),
            next_cursor=_cursor(query, shown[-1].key) if len(found) > query.limit else None,
        )


def _binding(query: PageQuery) -> str:
    """What a cursor belongs to: the namespace, order, kinds and filter of its listing."""
    where = query.where
    conditions = sorted(repr(c) for c in where.conditions) if where is not None else []
    bounds = None if where is None else (where.occurred_after, where.occurred_before)
    kinds = sorted(query.kinds) if query.kinds is not None else None
    shape = repr((query.namespace, query.order, query.descending, kinds, conditions, bounds))
    return hashlib.sha256(shape.encode()).hexdigest()[:16]


def _cursor(query: PageQuery, key: tuple[datetime, int]) -> str:
    """The opaque cursor of the page after ``key``: the key and what it belongs to."""
    body = {"v": 1, "at": time_to_json(key[0]), "row": key[1], "of": _binding(query)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(cursor: object, query: PageQuery) -> tuple[datetime, int]:
    """The key a cursor holds; ``InvalidInputError`` for one that is not a cursor of this
    listing (another namespace, order, filter or kinds)."""
    malformed = InvalidInputError("cursor is malformed: pass the next_cursor of a page back")
    if not isinstance(cursor, str) or not cursor or len(cursor) > _CURSOR_CHARS:
        raise malformed
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, row, binding = from_iso(body["at"]), body["row"], body["of"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise malformed from exc
    if body.get("v") != 1 or isinstance(row, bool) or not isinstance(row, int):
        raise malformed
    if binding != _binding(query):
        raise InvalidInputError(
            "cursor belongs to another listing: pass the same namespace, filters, kinds "
            "and order as the page it came from"
        )
    return at, row
