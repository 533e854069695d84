"""LangGraph: ``EngramStore``, a LangGraph ``BaseStore`` kept by engramdb
(docs/integrations/langgraph.md).

A LangGraph item (namespace tuple, key, value) is one memory: its namespace is
the tuple's labels joined by ``:`` under the store's root (``("users", "42")``
is ``langgraph:users:42``), its metadata holds the key and each top-level field
of the value (``key``, ``value.<field>``), and its text is what LangGraph's
``index`` names of the value (the whole value as JSON by default), so a query
finds it by meaning and a filter reads its fields with the one grammar of
docs/filters.md. ``created_at`` is the memory's ``recorded_at``, ``updated_at``
the ``valid_from`` of its current version.

``batch`` runs its operations in order on any blocking ``MemoryAPI`` (``Memory``
or ``Client``); ``abatch`` runs ``batch`` in a worker thread. Prefix search is
``search(namespaces=...)`` over the namespaces under the prefix, merged by
calibrated relevance; a search without a query lists them (``list``), namespace
by namespace in name order, each oldest first. Needs the ``langgraph`` extra.

This module maps; it owns no storage and no ranking. What LangGraph has and
engramdb lacks is refused with a clear error or documented on the page above.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from engramdb.api import MemoryAPI
from engramdb.config import Limits
from engramdb.errors import InvalidInputError
from engramdb.extras import needs_extra
from engramdb.integrations._calls import is_async
from engramdb.model import Engram
from engramdb.validation import check_namespace

with needs_extra("langgraph", "engramdb.integrations.langgraph"):
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        IndexConfig,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        get_text_at_path,
    )

__all__ = ["EngramStore"]

#: The metadata key that holds an item's key; each value field ``f`` is ``value.f``.
KEY = "key"
VALUE = "value."
#: What a memory of this store is; consolidated facts and summaries are not items.
EPISODE = "episode"
_LIMITS = Limits()
# A label's characters that stand for themselves in a namespace name; every other one
# is written as ``.`` and two hex digits per UTF-8 byte. LangGraph refuses ``.`` in a
# label, so a ``.`` in the name is always an escape and the mapping reverses exactly.
_PLAIN = re.compile(r"[A-Za-z0-9_@-]")
_NAME = re.compile(r"(?:[A-Za-z0-9_@-]|\.[0-9a-f]{2})+")
_PIECE = re.compile(r"([A-Za-z0-9_@-])|\.([0-9a-f]{2})")


class EngramStore(BaseStore):
    """``EngramStore(Memory("./agent-data"))``: a LangGraph store in an engramdb store.

    ``root`` is the namespace under which every LangGraph namespace lives (a
    namespace name of its own, docs/scopes.md); memories outside it are not this
    store's. ``index`` is LangGraph's ``IndexConfig``: its ``fields`` say which
    parts of a value become the memory's text; ``dims`` and ``embed`` are not
    used, as the memory embeds with its own model (docs/integrations/langgraph.md).
    """

    def __init__(
        self,
        memory: MemoryAPI,
        *,
        root: str = "langgraph",
        index: IndexConfig | None = None,
    ) -> None:
        if is_async(memory):
            raise InvalidInputError(
                f"EngramStore takes a blocking Memory or Client, not {type(memory).__name__}: "
                "its async calls run the blocking one in a worker thread"
            )
        self.memory = memory
        self.root = check_namespace(root, _LIMITS)
        self.index_config = index
        self._fields = _fields(index)

    # -- LangGraph's two entry points -------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Each operation's result, in order; each sees what the ones before it wrote."""
        return [self._run(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def _run(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return self._get(op)
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise InvalidInputError(f"unknown store operation {type(op).__name__}")

    # -- items ---------------------------------------------------------------------------

    def _held(self, name: str, key: str) -> Engram | None:
        """The memory that holds ``key`` in the namespace ``name``, if any."""
        where = {f"metadata.{KEY}": key}
        page = self.memory.list(namespace=name, where=where, kinds=EPISODE, limit=1)
        return page.engrams[0] if page.engrams else None

    def _get(self, op: GetOp) -> Item | None:
        name = self._name(op.namespace)
        held = self._held(name, _key(op.key))
        return None if held is None else _item(held, tuple(op.namespace))

    def _put(self, op: PutOp) -> None:
        if op.namespace and op.namespace[0] == "langgraph":
            raise InvalidNamespaceError(
                f'a namespace\'s first label cannot be "langgraph": {op.namespace}'
            )
        if not op.namespace:
            raise InvalidNamespaceError("a namespace has at least one label")
        name, key = self._name(op.namespace), _key(op.key)
        held = self._held(name, key)
        if op.value is None:
            if held is not None:
                self.memory.delete(held.id, namespace=name)
            return
        value = _value(op.value)
        metadata = {KEY: key, **{VALUE + field: v for field, v in value.items()}}
        text = self._text(value, op.index, key)
        if held is not None:
            self.memory.update(held.id, namespace=name, text=text, metadata=metadata)
            return
        added = self.memory.add(text, namespace=name, metadata=metadata)
        while added.repeated and added.metadata.get(KEY) != key:
            # The same text at the same instant is one experience (docs/repetition.md);
            # another key's item is another memory, a microsecond later.
            later = added.occurred_at + timedelta(microseconds=1)
            added = self.memory.add(text, namespace=name, metadata=metadata, occurred_at=later)

    def _text(self, value: Mapping[str, Any], index: object, key: str) -> str:
        """The text a memory is found by: the value's fields that ``index`` (or the store's
        ``fields``) names, one per line; the key when they name nothing."""
        if index is False:
            return key
        paths = self._fields if index is None else _paths(index)
        texts = [text for path in paths for text in get_text_at_path(value, path)]
        text = "\n".join(t for t in texts if t.strip())
        return text[: _LIMITS.max_text_chars] if text.strip() else key

    # -- search and listing ------------------------------------------------------------

    def _search(self, op: SearchOp) -> list[SearchItem]:
        limit, offset = _count(op.limit, "limit"), _count(op.offset, "offset")
        scope = self._under(tuple(op.namespace_prefix))
        if not scope or limit == 0:
            return []
        where = _where(op.filter)
        if op.query:
            hits = self.memory.search(
                op.query,
                namespaces=list(scope),
                limit=offset + limit,
                where=where,
                kinds=EPISODE,
                include_dormant=True,  # a store finds what it holds, however faded
                reinforce=False,  # reading an item does not change it
            )
            return [
                _found(h.engram, scope[h.engram.namespace], h.relevance)
                for h in hits[offset : offset + limit]
            ]
        found: list[SearchItem] = []
        for name, labels in scope.items():
            for engram in self._listed(name, where, offset + limit - len(found)):
                if offset:
                    offset -= 1
                else:
                    found.append(_found(engram, labels, None))
            if len(found) >= limit:
                break
        return found[:limit]

    def _listed(self, name: str, where: dict[str, Any] | None, most: int) -> Iterator[Engram]:
        """Up to ``most`` of a namespace's items that pass ``where``, oldest first."""
        cursor: str | None = None
        while most > 0:
            page = self.memory.list(
                namespace=name,
                where=where,
                kinds=EPISODE,
                order="recorded_at",
                limit=min(most, _LIMITS.max_limit),
                cursor=cursor,
            )
            yield from page.engrams
            most -= len(page.engrams)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        limit, offset = _count(op.limit, "limit"), _count(op.offset, "offset")
        found = list(self._under(()).values())
        for condition in op.match_conditions or ():
            found = [labels for labels in found if _matches(condition, labels)]
        if op.max_depth is not None:
            found = [labels[: _count(op.max_depth, "max_depth")] for labels in found]
        return sorted(set(found))[offset : offset + limit]

    # -- namespaces ----------------------------------------------------------------------

    def _name(self, labels: Sequence[str]) -> str:
        """The engramdb namespace of a LangGraph namespace tuple."""
        _check_labels(labels)
        name = ":".join([self.root, *(_escaped(label) for label in labels)])
        if len(name) > _LIMITS.max_label_chars:
            raise InvalidNamespaceError(
                f"namespace {tuple(labels)} is {len(name)} characters as the engramdb namespace "
                f"{name[:40]}...; the limit is {_LIMITS.max_label_chars}"
            )
        return name

    def _under(self, prefix: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """The store's namespaces whose labels start with ``prefix``, by engramdb name."""
        _check_labels(prefix)
        start = self.root + ":"
        found: dict[str, tuple[str, ...]] = {}
        for name in self.memory.namespaces():
            labels = _labels(name[len(start) :]) if name.startswith(start) else None
            if labels is not None and labels[: len(prefix)] == prefix:
                found[name] = labels
        return found


# -- values and items ------------------------------------------------------------------


def _key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"an item's key is a non-empty string, got {key!r}")
    return key


def _value(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"an item's value is a mapping, got {type(value).__name__}")
    for field in value:
        if not isinstance(field, str):
            raise InvalidInputError(f"an item's value has a non-string key {field!r}")
    return dict(value)


def _item(engram: Engram, labels: tuple[str, ...]) -> Item:
    return Item(
        namespace=labels,
        key=str(engram.metadata.get(KEY)),
        value=_stored_value(engram),
        created_at=engram.recorded_at,
        updated_at=engram.valid_from,
    )


def _found(engram: Engram, labels: tuple[str, ...], score: float | None) -> SearchItem:
    return SearchItem(
        namespace=labels,
        key=str(engram.metadata.get(KEY)),
        value=_stored_value(engram),
        created_at=engram.recorded_at,
        updated_at=engram.valid_from,
        score=score,
    )


def _stored_value(engram: Engram) -> dict[str, Any]:
    return {name[len(VALUE) :]: v for name, v in engram.metadata.items() if name.startswith(VALUE)}


def _fields(index: IndexConfig | None) -> list[str]:
    if index is None:
        return ["$"]
    if not isinstance(index, Mapping):
        raise InvalidInputError(f"index is LangGraph's IndexConfig, a mapping; got {index!r}")
    return _paths(index.get("fields") or ["$"])


def _paths(paths: object) -> list[str]:
    if isinstance(paths, str) or not isinstance(paths, Sequence):
        raise InvalidInputError(f"index fields are a list of paths, got {paths!r}")
    for path in paths:
        if not isinstance(path, str) or not path:
            raise InvalidInputError(f"an index field is a non-empty path, got {path!r}")
    return list(paths)


def _where(conditions: object) -> dict[str, Any] | None:
    """A LangGraph filter as engramdb's ``where`` (docs/filters.md) on the value's fields."""
    if not conditions:
        return None
    if not isinstance(conditions, Mapping):
        raise InvalidInputError(f"a filter is a mapping of fields, got {conditions!r}")
    where: dict[str, Any] = {}
    for field, condition in conditions.items():
        if not isinstance(field, str) or not field:
            raise InvalidInputError(f"a filter's field is a non-empty string, got {field!r}")
        if isinstance(condition, Mapping) and not all(str(k).startswith("$") for k in condition):
            raise InvalidInputError(
                f"filter[{field!r}] matches inside a nested object, which engramdb's filters "
                "do not read: filter on top-level fields of the value"
            )
        if condition is None or isinstance(condition, (list, tuple)):
            raise InvalidInputError(
                f"filter[{field!r}] is {json.dumps(condition)}: a filter compares a field with "
                "a string, a number or a boolean ($in and $nin take a list)"
            )
        where[f"metadata.{VALUE}{field}"] = condition
    return where


def _count(number: object, name: str) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise InvalidInputError(f"{name} is a whole number, 0 or more; got {number!r}")
    return number


# -- namespace names ----------------------------------------------------------------------


def _check_labels(labels: object) -> None:
    """LangGraph's rule for a label: a non-empty string with no ``.`` and no NUL."""
    if not isinstance(labels, tuple):
        raise InvalidNamespaceError(f"a namespace is a tuple of labels, got {labels!r}")
    for label in labels:
        if not isinstance(label, str) or not label or "." in label or "\x00" in label:
            raise InvalidNamespaceError(
                f"namespace label {label!r} in {labels} is not a non-empty string "
                "without '.' and NUL"
            )


def _escaped(label: str) -> str:
    return "".join(
        c if _PLAIN.fullmatch(c) else "".join(f".{b:02x}" for b in c.encode()) for c in label
    )


def _labels(rest: str) -> tuple[str, ...] | None:
    """The labels of a name under the root; None for a name this store did not make."""
    labels = []
    for part in rest.split(":"):
        if not _NAME.fullmatch(part):
            return None
        raw = bytearray()
        for plain, byte in _PIECE.findall(part):
            raw += plain.encode() if plain else bytes([int(byte, 16)])
        try:
            label = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if _escaped(label) != part:  # one spelling per label
            return None
        labels.append(label)
    return tuple(labels)


def _matches(condition: MatchCondition, labels: tuple[str, ...]) -> bool:
    """Whether a namespace's first (prefix) or last (suffix) labels are the condition's,
    a ``*`` standing for any one label."""
    path = tuple(condition.path)
    if len(labels) < len(path):
        return False
    if condition.match_type == "prefix":
        compared = labels[: len(path)]
    elif condition.match_type == "suffix":
        compared = labels[len(labels) - len(path) :]
    else:
        raise InvalidInputError(
            f"a match condition is prefix or suffix, got {condition.match_type!r}"
        )
    return all(want in ("*", label) for label, want in zip(compared, path, strict=True))
