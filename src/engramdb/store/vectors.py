"""A vector index over one namespace: exact below a size, an HNSW graph above.

Stores own their vectors durably; this index is derived from them (built from
the table, or opened from a form a store saved) and never the only copy.
Exact search (one matrix product) is fast enough for tens of thousands of
vectors; above ``ann_threshold`` a graph over the vectors' int8 codes answers
instead (``store/graph.py``; BENCHMARKS.md, "Vector index at a million"). It also
owns the int8 quantisation used to store vectors compactly.

Above the threshold the index is two parts: the graph, and an exact part holding
the keys added since the graph last took them in. Adds land in the exact part
and move into the graph a batch at a time (``_MERGE_AT``); a search asks both
and merges by score. A graph opened as a read-only view of a saved form
(memory-mapped: nothing is read until a search touches it) takes no adds or
removes: its removed and replaced keys are hidden from its answers instead, and
only a process that changes it a lot copies it into memory (``_thaw``). Where
and how a graph's form is saved is the store's (``store/sqlite/annfile.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.store.graph import Graph

__all__ = [
    "VectorIndex",
    "dequantize",
    "dequantize_many",
    "quantize",
    "quantize_many",
]

F32 = npt.NDArray[np.float32]

# Scores one exact ``nearest`` pass holds at once (16 MB of float32)
_SCORES_PER_BLOCK = 4_000_000
# The exact part of a graph that can change goes into it at this size: one batch
# insert on every core instead of one per write (an ingest writes 1,000 at once).
_MERGE_AT = 1_000
# A read-only (viewed) graph is copied into memory to take changes only past these:
# until then adds wait in the exact part and removed keys are filtered out of its
# answers, so a process that mostly searches never holds the graph in memory.
_VIEW_EXACT_MAX = 20_000
_VIEW_HIDDEN_MAX = 1_000
# The graph compares int8 codes of the query too; this many more candidates than
# asked (up to as many again) are scored again with the float32 query, which finds
# the exact top 10 where the codes' ties and rounding alone miss 1% of it
# (BENCHMARKS.md, "Vector index at a million").
_RESCORED_EXTRA = 32


def quantize(vector: F32) -> tuple[bytes, float]:
    """int8 codes and the scale that maps them back (``code * scale``)."""
    peak = float(np.max(np.abs(vector))) if vector.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    codes = np.clip(np.rint(vector / scale), -127, 127).astype(np.int8)
    return codes.tobytes(), scale


def quantize_many(vectors: F32) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """``quantize`` of each row at once (a batch written in one transaction), to the
    bit: int8 codes row for row, and each row's scale."""
    rows = np.asarray(vectors, dtype=np.float32)
    peaks = np.abs(rows).max(axis=1, initial=0.0).astype(np.float64)
    scales = np.where(peaks > 0, peaks / 127.0, 1.0)
    # divided in float32, as ``vector / scale`` divides a float32 vector
    codes = np.clip(np.rint(rows / scales.astype(np.float32)[:, None]), -127, 127)
    return codes.astype(np.int8), scales


def dequantize(data: bytes, scale: float) -> F32:
    """The unit vector closest to what ``quantize`` stored."""
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32) * np.float32(scale)
    norm = float(np.linalg.norm(vector))
    return np.asarray(vector / norm if norm > 0 else vector, dtype=np.float32)


def dequantize_many(codes: npt.NDArray[np.int8], scales: npt.NDArray[np.float64]) -> F32:
    """``dequantize`` of each row of codes at once, with each row's scale, to the bit
    (an index kept up to date must hold what one built from the table holds)."""
    rows = codes.astype(np.float32) * scales.astype(np.float32)[:, None]
    # each row's norm as ``np.linalg.norm`` takes it (a dot product): summed in
    # another order, by a vectorised reduction, it can differ in the last bit
    norms = np.sqrt(np.array([row.dot(row) for row in rows], dtype=np.float32))
    return np.asarray(rows / np.where(norms > 0, norms, 1)[:, None], dtype=np.float32)


class VectorIndex:
    """Cosine search over unit vectors keyed by integer row ids."""

    def __init__(self, dims: int, ann_threshold: int = 20_000) -> None:
        self.dims = dims
        self.ann_threshold = ann_threshold
        # the exact part: every key below the threshold, the newest above it
        self._matrix: F32 = np.zeros((0, dims), dtype=np.float32)
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._position: dict[int, int] = {}
        self._size = 0
        self._graph: Graph | None = None
        self._hidden: set[int] = set()  # keys of a viewed graph removed or replaced since

    @classmethod
    def opened(cls, dims: int, ann_threshold: int, form: Any, *, view: bool) -> VectorIndex:
        """The index whose ``serialized()`` form is ``form`` (a buffer): searched in place
        when ``view`` (the buffer must outlive the index), else copied into memory.
        Raises ValueError when ``form`` is not a graph of ``dims`` dimensions."""
        index = cls(dims, ann_threshold)
        index._graph = Graph.opened(form, dims, view=view)
        return index

    def __len__(self) -> int:
        graph = self._graph
        return self._size + (0 if graph is None else len(graph) - len(self._hidden))

    def __contains__(self, key: int) -> bool:
        return key in self._position or self._in_graph(key)

    @property
    def graph_built(self) -> bool:
        """Whether a graph is built (the part worth saving)."""
        return self._graph is not None

    @property
    def exact(self) -> bool:
        """Whether every vector is held as the float32 the index was given (below the
        threshold); above it, ``vector`` and ``matrix`` give a graph's vectors back
        from their int8 codes (normalised: equal to the stored vector within float32
        rounding, not to the bit)."""
        return self._graph is None

    def add(self, keys: Sequence[int], vectors: F32) -> None:
        """Add or replace vectors."""
        if self._graph is not None:  # a replaced vector leaves the graph first
            self._leave_graph([int(k) for k in keys if int(k) not in self._position])
        for key, vector in zip(keys, vectors, strict=True):
            pos = self._position.get(int(key))
            if pos is None:
                self._grow(self._size + 1)
                pos = self._size
                self._size += 1
                self._position[int(key)] = pos
                self._keys[pos] = key
            self._matrix[pos] = vector
        self._settle()

    def remove(self, keys: Sequence[int]) -> None:
        in_graph = []
        for key in keys:
            pos = self._position.pop(int(key), None)
            if pos is None:
                in_graph.append(int(key))
                continue
            last = self._size - 1
            if pos != last:  # move the last row into the hole
                moved = int(self._keys[last])
                self._matrix[pos] = self._matrix[last]
                self._keys[pos] = moved
                self._position[moved] = pos
            self._size = last
        if self._graph is not None and in_graph:
            self._leave_graph(in_graph)
            self._settle()

    def vector(self, key: int) -> F32 | None:
        pos = self._position.get(key)
        if pos is not None:
            return np.asarray(self._matrix[pos], dtype=np.float32)
        if not self._in_graph(key):
            return None
        return np.asarray(self._from_graph(np.array([key], dtype=np.int64))[0], dtype=np.float32)

    def matrix(self, keys: Sequence[int]) -> F32:
        """The vectors of ``keys`` as rows (zeros for unknown keys)."""
        out = np.zeros((len(keys), self.dims), dtype=np.float32)
        if not len(keys):
            return out
        # by array, not key by key: a filtered search asks for thousands (Store.few_matching)
        position = self._position
        positions = np.fromiter((position.get(int(k), -1) for k in keys), np.int64, len(keys))
        found = np.flatnonzero(positions >= 0)
        if len(found):
            out[found] = self._matrix[positions[found]]
        if self._graph is not None:
            rest = np.flatnonzero(positions < 0)
            rest_keys = np.asarray(keys, dtype=np.int64)[rest]
            held = self._graph.holds(rest_keys)
            if self._hidden:
                held &= ~np.isin(rest_keys, np.fromiter(self._hidden, np.int64))
            if held.any():
                out[rest[held]] = self._from_graph(rest_keys[held])
        return out

    def search(self, query: F32, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` nearest keys with their cosine similarity, best first."""
        if limit <= 0 or not len(self):
            return []
        query = np.asarray(query, dtype=np.float32)
        found = self._exact_search(query, limit)
        if self._graph is not None:
            (graph_keys,), (count,) = self._graph_candidates(query[None], limit)
            keys = graph_keys[:count]
            scores = self._from_graph(keys) @ query
            found += zip(keys.tolist(), scores.tolist(), strict=True)
            found.sort(key=lambda pair: -pair[1])  # stable: on ties, the exact part first
        return [(int(key), float(score)) for key, score in found[:limit]]

    def nearest(self, queries: F32) -> npt.NDArray[np.float64]:
        """Each query's similarity to its nearest vector, as ``search(query, 1)`` scores
        it, for a batch of queries in one pass; 0 when the index is empty."""
        scores = np.zeros(len(queries), dtype=np.float64)
        if not len(self) or not len(queries):
            return scores
        batch = np.ascontiguousarray(queries, dtype=np.float32)
        best = np.full(len(batch), -np.inf, dtype=np.float64)
        if self._size:  # exact: one matrix product per block of queries, bounded in size
            matrix = self._matrix[: self._size]
            step = max(1, _SCORES_PER_BLOCK // self._size)
            for start in range(0, len(batch), step):
                block = batch[start : start + step] @ matrix.T
                best[start : start + step] = block.max(axis=1)
        if self._graph is not None and len(self._graph) > len(self._hidden):
            keys, counts = self._graph_candidates(batch, 1)
            for row, (row_keys, count) in enumerate(zip(keys, counts, strict=True)):
                if count:
                    near = self._from_graph(row_keys[:count]) @ batch[row]
                    best[row] = max(best[row], float(near.max()))
        return np.where(np.isfinite(best), best, 0.0)

    def serialized(self) -> bytearray:
        """The graph's form with every vector of the index in it (the exact part goes
        in first), for a store to save (``opened`` reads it back); only once a graph
        is built."""
        return self._settled_graph().serialized()

    def save(self, path: Path) -> None:
        """Write ``serialized()``'s form to the file at ``path``, without a copy of it
        in memory."""
        self._settled_graph().save(path)

    def _settled_graph(self) -> Graph:
        if self._graph is None:
            raise ValueError("no graph is built below the threshold: nothing to save")
        self._merge()
        assert self._graph is not None
        return self._graph

    # -- the parts ------------------------------------------------------------

    def _grow(self, needed: int) -> None:
        if needed <= len(self._matrix):
            return
        capacity = max(needed, 2 * len(self._matrix), 64)
        matrix = np.zeros((capacity, self.dims), dtype=np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        keys = np.zeros(capacity, dtype=np.int64)
        keys[: self._size] = self._keys[: self._size]
        self._matrix, self._keys = matrix, keys

    def _exact_search(self, query: F32, limit: int) -> list[tuple[int, float]]:
        if not self._size:
            return []
        scores = self._matrix[: self._size] @ query
        if limit < self._size:
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(self._size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._keys[i]), float(scores[i])) for i in top]

    def _in_graph(self, key: int) -> bool:
        return self._graph is not None and key not in self._hidden and key in self._graph

    def _leave_graph(self, keys: list[int]) -> None:
        graph = self._graph
        assert graph is not None
        held = [key for key in keys if key not in self._hidden and key in graph]
        if not held:
            return
        if graph.frozen:
            self._hidden.update(held)
        else:
            graph.remove(np.array(held, dtype=np.int64))

    def _settle(self) -> None:
        """Build the graph once the index reaches the threshold, and move the exact
        part into it once that is large enough (module docstring)."""
        graph = self._graph
        if graph is None:
            if self._size >= self.ann_threshold:
                self._graph = Graph.empty(self.dims)
                self._merge()
        elif graph.frozen:
            if self._size >= _VIEW_EXACT_MAX or len(self._hidden) >= _VIEW_HIDDEN_MAX:
                self._merge()
        elif self._size >= _MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        """Move the exact part into the graph (copying a viewed graph into memory)."""
        self._thaw()
        graph = self._graph
        assert graph is not None
        if self._size:
            codes, _ = quantize_many(self._matrix[: self._size])
            graph.add(self._keys[: self._size], codes)
        self._matrix = np.zeros((0, self.dims), dtype=np.float32)
        self._keys = np.zeros(0, dtype=np.int64)
        self._position, self._size = {}, 0

    def _thaw(self) -> None:
        graph = self._graph
        if graph is None or not graph.frozen:
            return
        graph = graph.thawed()
        if self._hidden:
            graph.remove(np.array(sorted(self._hidden), dtype=np.int64))
        self._graph, self._hidden = graph, set()

    def _graph_candidates(
        self, queries: F32, limit: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Each query's candidates in the graph for its ``limit`` nearest (a few more,
        to be scored again: ``_RESCORED_EXTRA``), hidden keys left out, and how many
        each row holds (the keys first)."""
        graph = self._graph
        assert graph is not None
        hidden = self._hidden
        wanted = limit + min(limit, _RESCORED_EXTRA)
        count = min(wanted + len(hidden), len(graph))
        if not count:  # every vector of the graph was removed
            return np.zeros((len(queries), 0), dtype=np.int64), np.zeros(len(queries), np.int64)
        codes, _ = quantize_many(queries)  # cosine: the codes are the query
        keys, counts = graph.search(codes, count)
        if hidden:
            kept = np.zeros((len(keys), wanted), dtype=np.int64)
            for row, (row_keys, filled) in enumerate(zip(keys, counts, strict=True)):
                live = [k for k in row_keys[:filled].tolist() if k not in hidden][:wanted]
                kept[row, : len(live)] = live
                counts[row] = len(live)
            keys = kept
        return keys[:, :wanted], np.minimum(counts, wanted)

    def _from_graph(self, keys: npt.NDArray[np.int64]) -> F32:
        """The unit vectors of graph ``keys``, from their codes."""
        assert self._graph is not None
        rows = self._graph.codes(keys).astype(np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.asarray(rows / np.where(norms > 0, norms, 1), dtype=np.float32)
