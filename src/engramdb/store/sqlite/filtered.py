"""What a filtered two-stage search reads of a SQLite store (docs/filters.md, "Large
namespaces"): the memories that pass a filter, counted, listed, or with their
vectors when few; and the vector and full-text seeds that pass it when many do; and
a page of a listing (docs/scopes.md, ``listing``).

Each checks the filter by row, in the statement that turns the index's rows into
ids, so a seed is never looked up by id twice. The filter's SQL is
``fields.clause``'s; which memories a search then chooses is ``recall.candidates``'.
A mixin of ``SqliteStore``: it reads through the store's database, data keys and
namespace cache, and owns nothing of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engramdb.filters import Filter
from engramdb.store.base import Candidate, deepened
from engramdb.store.paging import Keyed, PageQuery
from engramdb.store.sqlite import fields, lexical, listing
from engramdb.store.sqlite.cache import NamespaceCache
from engramdb.store.sqlite.database import Database
from engramdb.store.sqlite.sealing import DataKeys

__all__ = ["FilteredReads"]


class FilteredReads:
    """``Store``'s filtered reads, by row (``SqliteStore`` inherits them)."""

    _db: Database
    _keys: DataKeys
    _cache: NamespaceCache

    def matching(
        self,
        namespace: str,
        where: Filter,
        *,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        self._filterable(namespace, where)
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            return fields.rows_matching(conn, cipher, namespace, where, ids, limit)

    def count_matching(self, namespace: str, where: Filter, limit: int) -> int:
        self._filterable(namespace, where)
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            return fields.count_matching(conn, cipher, namespace, where, limit)

    def few_matching(
        self, namespace: str, where: Filter, most: int
    ) -> tuple[list[str], npt.NDArray[np.float32]] | None:
        # by row: the passing rows' ids and keys in one statement, their vectors from the
        # loaded index (in memory, already opened on an encrypted store), none looked up
        # by id and none read from the vectors rows (BENCHMARKS.md, "Filters at scale")
        self._filterable(namespace, where)
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            if fields.count_matching(conn, cipher, namespace, where, most + 1) > most:
                return None
            found = fields.keyed_matching(conn, cipher, namespace, where)
            return [engram_id for _, engram_id in found], self._cache.index_vectors(
                namespace, [key for key, _ in found]
            )

    def vector_search_within(
        self,
        namespace: str,
        vector: npt.NDArray[np.float32],
        limit: int,
        within: Filter,
        deepest: int,
    ) -> list[Candidate]:
        # the index's rows checked against the filter in the statement that names them
        # (one read snapshot, and the lock: a write in another thread may change the index)
        self._filterable(namespace, within)
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            index = self._cache.index(namespace)
            passing: dict[int, str | None] = {}

            def read(depth: int) -> tuple[int, list[Candidate]]:
                found = index.search(vector, depth)
                unknown = [key for key, _ in found if key not in passing]
                passing.update(dict.fromkeys(unknown))
                passing.update(fields.passing_rows(conn, cipher, namespace, within, unknown))
                return len(found), [
                    Candidate(engram_id, score)
                    for key, score in found
                    if (engram_id := passing[key]) is not None
                ]

            return deepened(read, limit, deepest)

    def lexical_search_within(
        self, namespace: str, terms: Sequence[str], limit: int, within: Filter, deepest: int
    ) -> list[Candidate]:
        # ranked once: a deeper read is a longer walk down the same ranking
        if not terms or limit <= 0:
            return []
        self._filterable(namespace, within)
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            walk = lexical.Walk(conn, cipher, namespace, terms, within)
            return deepened(walk.read, limit, deepest)

    def page(self, query: PageQuery) -> list[Keyed]:
        # a listing (docs/scopes.md): one range of a time index, the filter checked by row
        if query.where is not None:
            self._filterable(query.namespace, query.where)
        with self._db.read() as conn:
            return listing.page(conn, self._keys.cipher(conn, query.namespace), query)

    def _filterable(self, namespace: str, where: Filter) -> None:
        """Refuse a filter the namespace cannot answer; index its filter fields first
        when its rows predate them."""
        with self._db.read() as conn:
            cipher = self._keys.cipher(conn, namespace)
            fields.clause(cipher, namespace, where)  # refuses what the namespace cannot do
            ready = not fields.pending(conn, namespace)
        if not ready:
            with self._db.write("index filter fields") as conn:
                if fields.pending(conn, namespace):
                    fields.fill(conn, self._keys.cipher(conn, namespace), namespace)
