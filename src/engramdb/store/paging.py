"""A page of a listing as a store reads it: keyset pagination (docs/scopes.md, "Listing").

``PageQuery`` asks for up to ``limit`` memories of one namespace in the order of
a time column (``ORDERS``), ascending or descending, that pass a filter and come
after ``after``: the (time, row key) of the last memory of the previous page.
Every order ends in the row key, which is unique, so two memories never tie
and each page starts exactly where the last one stopped, however the rows
before it moved: no ``OFFSET``, no count of what came before. ``Keyed`` is one
memory with that key, from which the facade builds the next page's cursor.

What a cursor looks like outside (opaque, bound to its listing) is the
facade's (``engramdb.scopes``); the SQL of each backend is beside it
(``store/sqlite/listing.py``, ``store/postgres/listing.py``). ``listed`` is the
reference every backend agrees with: the whole namespace read and sorted, for
a backend without the indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from engramdb.filters import Filter
from engramdb.model import Engram

__all__ = ["ORDERS", "Keyed", "Order", "PageQuery", "listed"]

Order = Literal["occurred_at", "recorded_at"]
#: The columns a listing may be ordered by: event time and ingest time.
ORDERS: tuple[Order, ...] = ("occurred_at", "recorded_at")


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A validated request for one page of a namespace's memories."""

    namespace: str
    order: Order
    descending: bool
    limit: int
    where: Filter | None = None
    kinds: frozenset[str] | None = None
    # the key of the last memory of the previous page: the page starts after it
    after: tuple[datetime, int] | None = None

    def passes(self, engram: Engram) -> bool:
        """Whether a memory belongs in the listing (its filter and kinds)."""
        if self.kinds is not None and engram.kind not in self.kinds:
            return False
        return self.where is None or self.where.matches(
            speaker=engram.speaker,
            session=engram.session,
            metadata=engram.metadata,
            occurred_at=engram.occurred_at,
            expires_at=engram.expires_at,
        )

    def beyond(self, key: tuple[datetime, int]) -> bool:
        """Whether a memory with ``key`` comes after ``after`` in this order."""
        if self.after is None:
            return True
        return key < self.after if self.descending else key > self.after


@dataclass(frozen=True, slots=True)
class Keyed:
    """A memory of a page with its key in the listing's order: (time, row key)."""

    engram: Engram
    key: tuple[datetime, int]


def listed(query: PageQuery, engrams: Iterable[Engram]) -> list[Keyed]:
    """The page of ``engrams`` (in insertion order: their position is the row key)."""
    keyed = [
        Keyed(e, (getattr(e, query.order), row))
        for row, e in enumerate(engrams, 1)
        if query.passes(e)
    ]
    keyed = [k for k in keyed if query.beyond(k.key)]
    keyed.sort(key=lambda k: k.key, reverse=query.descending)
    return keyed[: query.limit]
