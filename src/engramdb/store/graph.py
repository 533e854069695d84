"""The HNSW graph of a large namespace: usearch over the store's own int8 codes.

It owns the graph and its serialized form, nothing else: which keys a
namespace's index holds and how its answers are merged are ``store/vectors.py``'s;
where the form is saved is the store's (``store/sqlite/annfile.py``).

Why usearch, int8 (BENCHMARKS.md, "Vector index at a million"): the graph keeps
the same int8 codes the store keeps (``vectors.quantize``: cosine does not see a
vector's scale, so the codes alone are the vector), about 530 bytes a vector with
its links, where hnswlib's float32 graph took 1.7 KB; it removes for real (a
removed key's slot is reused); and a saved graph can be searched where it lies,
memory-mapped (``opened(..., view=True)``), so opening a million vectors reads
nothing until a search touches it.

Erasure (docs/security.md): a removed vector's codes stay in its free slot until
a later add reuses it. ``serialized`` therefore zeroes every free slot of the
form it returns, so no saved graph holds a removed vector. That reads usearch's
serialized layout (format 2: the vectors in slot order, then the graph's
nodes, each led by its key), checked against the form's own length before
anything is changed.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Graph"]

CONNECTIVITY = 16  # links per node (M); the base layer has twice as many
EXPANSION_ADD = 128  # candidates kept while linking a new node (ef_construction)
EXPANSION_SEARCH = 128  # candidates kept while searching, at least the count asked
# A graph smaller than this takes adds on one thread: it comes out the same every
# time (a parallel insert's order varies, and with it which near-ties link up).
PARALLEL_FROM = 10_000
# The key usearch gives a removed node's slot (its default ``free_key``)
_FREE_KEY = np.iinfo(np.uint64).max
_DENSE_HEAD = 64  # bytes of usearch's description of the index, after the vectors
_GRAPH_HEAD = 5  # u64 fields before the nodes: size, connectivity, base, max level, entry
_NODE_HEAD = 10  # bytes leading each node: its key (u64) and its level (i16)


class Graph:
    """Cosine search over int8 codes keyed by unsigned 64-bit integers."""

    def __init__(self, index: Any, *, form: Any = None) -> None:
        self._index = index
        self._form = form  # the buffer a viewed graph is searched in (kept alive with it)

    @property
    def frozen(self) -> bool:
        """Whether this is a read-only view of a saved form (no add, no remove)."""
        return self._form is not None

    @classmethod
    def empty(cls, dims: int) -> Graph:
        from usearch.index import Index  # imported lazily: small stores never need it

        index = Index(
            ndim=dims,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        return cls(index)

    @classmethod
    def opened(cls, form: Any, dims: int, *, view: bool) -> Graph:
        """The graph ``serialized`` gave as ``form`` (a buffer): searched in place when
        ``view`` (the buffer must then outlive it), else copied into memory. Raises
        ValueError when ``form`` is not such a graph."""
        from usearch.compiled import MetricKind, ScalarKind
        from usearch.index import Index

        try:
            meta = Index.metadata(form)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ValueError(f"not a saved graph: {exc}") from exc
        if not meta or meta.get("dimensions") != dims:
            raise ValueError(f"the saved graph does not have {dims} dimensions")
        if (meta.get("kind_metric"), meta.get("kind_scalar")) != (MetricKind.Cos, ScalarKind.I8):
            raise ValueError("the saved graph has another metric or scalar type")
        _nodes_end(form)  # the layout is whole before usearch reads a link of it
        try:
            index: Any = Index.restore(form, view=view)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ValueError(f"the saved graph does not load: {exc}") from exc
        if index is None:
            raise ValueError("the saved graph does not load")
        index.expansion_search = EXPANSION_SEARCH
        return cls(index, form=form if view else None)

    def __len__(self) -> int:
        return int(self._index.size)

    def __contains__(self, key: int) -> bool:
        return bool(self._index.contains(key))

    def holds(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each of ``keys`` is held, in one call."""
        if not len(keys):
            return np.zeros(0, dtype=bool)
        return np.asarray(self._index.contains(np.asarray(keys, dtype=np.uint64)), dtype=bool)

    def thawed(self) -> Graph:
        """A copy in memory that can change (of a frozen view: its form is copied)."""
        if not self.frozen:
            return self
        return Graph.opened(self._form, int(self._index.ndim), view=False)

    def add(self, keys: npt.NDArray[np.int64], codes: npt.NDArray[np.int8]) -> None:
        """Add new keys (none of them held) with their int8 codes."""
        assert not self.frozen, "a viewed graph does not change"
        threads = 0 if len(self) + len(keys) >= PARALLEL_FROM else 1
        self._index.add(
            np.asarray(keys, dtype=np.uint64), np.ascontiguousarray(codes), threads=threads
        )

    def remove(self, keys: npt.NDArray[np.int64]) -> None:
        assert not self.frozen, "a viewed graph does not change"
        self._index.remove(np.asarray(keys, dtype=np.uint64))

    def search(
        self, codes: npt.NDArray[np.int8], count: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The ``count`` nearest keys of each query row (codes), and how many of each
        row's ``count`` columns are filled (a graph smaller than ``count``)."""
        index = self._index
        index.expansion_search = max(EXPANSION_SEARCH, count)
        found = index.search(np.ascontiguousarray(codes), count, threads=0 if len(codes) > 1 else 1)
        if len(codes) > 1:  # BatchMatches: a row of ``count`` per query, and its fill
            keys = np.asarray(found.keys, dtype=np.int64).reshape(len(codes), -1)
            return keys, np.asarray(found.counts, dtype=np.int64).reshape(len(codes))
        one = np.asarray(found.keys, dtype=np.int64).ravel()  # Matches: only what it found
        keys = np.zeros((1, max(count, len(one))), dtype=np.int64)
        keys[0, : len(one)] = one
        return keys, np.array([len(one)], dtype=np.int64)

    def codes(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """The int8 codes of ``keys`` (all of them held), one row each."""
        dims = int(self._index.ndim)
        if not len(keys):
            return np.zeros((0, dims), dtype=np.int8)
        rows = self._index.get(np.asarray(keys, dtype=np.uint64), dtype=np.int8)
        if isinstance(rows, np.ndarray) and rows.ndim == 2:
            return rows
        return np.vstack(rows).reshape(len(keys), dims)  # a row each (vstack: half stack's time)

    def save(self, path: Path) -> None:
        """Write the graph's form to the file at ``path`` (as ``serialized`` gives it,
        without a copy of it in memory)."""
        self._index.save(str(path))
        with path.open("r+b") as file, mmap.mmap(file.fileno(), 0) as mapping:
            _zero_free_slots(mapping)
            mapping.flush()

    def serialized(self) -> bytearray:
        """The graph's form (``opened`` reads it back), every free slot's codes zeroed."""
        form = self._index.save()
        form = form if isinstance(form, bytearray) else bytearray(form)
        _zero_free_slots(form)
        return form


def _layout(form: Any) -> tuple[int, int, int]:
    """Where usearch's form keeps its vectors: the offset of the first, how many
    slots, the bytes of each."""
    head = np.frombuffer(form, dtype=np.uint32, count=2)
    return 8, int(head[0]), int(head[1])


def _nodes_end(form: Any) -> tuple[npt.NDArray[np.int64], int]:
    """Each slot's node offset, and where the last node ends: the end of the form, or
    ValueError (a form this module does not know how to read)."""
    start, slots, width = _layout(form)
    total = len(memoryview(form).cast("B"))
    at = start + slots * width + _DENSE_HEAD
    if at + 8 * _GRAPH_HEAD > total:
        raise ValueError("the saved graph is cut short")
    size, connectivity, base, _, _ = np.frombuffer(
        form, dtype=np.uint64, count=_GRAPH_HEAD, offset=at
    ).tolist()
    at += 8 * _GRAPH_HEAD
    if size != slots or at + 2 * size > total:
        raise ValueError("the saved graph's nodes do not match its vectors")
    levels = np.frombuffer(form, dtype=np.int16, count=size, offset=at).astype(np.int64)
    if size and int(levels.min()) < 0:
        raise ValueError("the saved graph has a node of a negative level")
    at += 2 * size
    sizes = _NODE_HEAD + (4 + 4 * base) + (4 + 4 * connectivity) * levels
    offsets = at + np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)[:-1]])
    end = at + int(sizes.sum())
    if end != total:
        raise ValueError("the saved graph's length does not match its nodes")
    return offsets.astype(np.int64), end


def _zero_free_slots(form: bytearray | mmap.mmap) -> None:
    """Zero the codes of every slot whose node carries usearch's free key."""
    offsets, _ = _nodes_end(form)
    if not len(offsets):
        return
    data = np.frombuffer(form, dtype=np.uint8)
    keys = data[offsets[:, None] + np.arange(8)[None, :]].copy().view(np.uint64).ravel()
    free = np.flatnonzero(keys == _FREE_KEY)
    start, _, width = _layout(form)
    writable = np.frombuffer(form, dtype=np.int8)
    for slot in free.tolist():
        writable[start + slot * width : start + (slot + 1) * width] = 0
