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
by namespace in name order, each oldest first. An item's TTL is its memory's
``expires_at`` (docs/expiry.md), renewed by reads that ask to, and a sweep is a
``purge`` of the store's namespaces. Needs the ``langgraph`` extra.

This module maps; it owns no storage and no ranking. What LangGraph has and
engramdb lacks is refused with a clear error or documented on the page above.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from engramdb.api import MemoryAPI
from engramdb.clock import Clock, SystemClock
from engramdb.config import Limits
from engramdb.errors import InvalidInputError, NotFoundError
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
        TTLConfig,
        get_text_at_path,
    )

__all__ = ["EngramStore"]

#: The metadata key that holds an item's key; each value field ``f`` is ``value.f``.
KEY = "key"
VALUE = "value."
#: The metadata key of an item's time to live in minutes, which a read renews.
TTL = "ttl_minutes"
#: How many keys' memory ids a store keeps (the most recently used), to read them by id.
_REMEMBERED = 10_000
_MOST_MINUTES = 100 * 365 * 24 * 60  # a TTL or sweep interval: 100 years at most
_TTL_OPTIONS = ("default_ttl", "refresh_on_read", "omit_expired", "sweep_interval_minutes")
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

    ``ttl`` is LangGraph's ``TTLConfig``: ``default_ttl`` (minutes) for a put that
    gives none, ``refresh_on_read``, ``sweep_interval_minutes`` for
    ``start_ttl_sweeper``. An item's ``ttl`` becomes its memory's ``expires_at``
    (docs/expiry.md), from ``clock``'s now: give the memory's own clock when it has
    one. An expired item is gone from every read at once; a sweep erases it.
    """

    supports_ttl = True

    def __init__(
        self,
        memory: MemoryAPI,
        *,
        root: str = "langgraph",
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        clock: Clock | None = None,
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
        self.ttl_config = _ttl_config(ttl)
        self.clock = clock or SystemClock()
        self._ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._sweeping = threading.Event()
        self._sweeper: threading.Thread | None = None

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
        """The memory that holds ``key`` in the namespace ``name``, if any: by the id this
        store last saw for it, when that memory still holds the key (a read by id), else
        by a listing filtered on the key (on PostgreSQL, a scan of the namespace)."""
        with self._lock:
            known = self._ids.get((name, key))
        if known is not None:
            with contextlib.suppress(NotFoundError):  # deleted or expired meanwhile
                engram = self.memory.get(known, namespace=name)
                if engram.metadata.get(KEY) == key and engram.kind == EPISODE:
                    self._saw(name, key, engram)  # the most recently used now
                    return engram
        where = {f"metadata.{KEY}": key}
        page = self.memory.list(namespace=name, where=where, kinds=EPISODE, limit=1)
        found = page.engrams[0] if page.engrams else None
        self._saw(name, key, found)
        return found

    def _saw(self, name: str, key: str, engram: Engram | None) -> None:
        """Keep (or forget) which memory holds a key: one memory per key, so an id stays
        right until that memory is deleted, which a read by id then finds out."""
        with self._lock:
            self._ids.pop((name, key), None)
            if engram is not None:
                self._ids[(name, key)] = engram.id
                if len(self._ids) > _REMEMBERED:
                    self._ids.popitem(last=False)

    def _get(self, op: GetOp) -> Item | None:
        name = self._name(op.namespace)
        held = self._held(name, _key(op.key))
        if held is None:
            return None
        if op.refresh_ttl:
            self._refresh(held)
        return _item(held, tuple(op.namespace))

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
                self._saw(name, key, None)
            return
        value = _value(op.value)
        minutes = _minutes(op.ttl)
        lasting = {} if minutes is None else {TTL: minutes}
        metadata = {KEY: key, **lasting, **{VALUE + field: v for field, v in value.items()}}
        text = self._text(value, op.index, key)
        until = None if minutes is None else self.clock.now() + timedelta(minutes=minutes)
        if held is not None:
            self.memory.update(held.id, namespace=name, text=text, metadata=metadata)
            if until is not None or held.expires_at is not None:
                self.memory.set_expiry(held.id, namespace=name, expires_at=until)
            return
        added = self.memory.add(text, namespace=name, metadata=metadata, expires_at=until)
        while added.repeated and added.metadata.get(KEY) != key:
            # The same text at the same instant is one experience (docs/repetition.md);
            # another key's item is another memory, a microsecond later.
            later = added.occurred_at + timedelta(microseconds=1)
            added = self.memory.add(
                text, namespace=name, metadata=metadata, occurred_at=later, expires_at=until
            )
        self._saw(name, key, added)

    def _refresh(self, engram: Engram) -> None:
        """Renew an item's time to live from now, as a read does in LangGraph."""
        minutes = engram.metadata.get(TTL)
        if not isinstance(minutes, (int, float)) or isinstance(minutes, bool):
            return
        until = self.clock.now() + timedelta(minutes=minutes)
        # one that expired, or was deleted, since it was read has nothing to renew
        with contextlib.suppress(NotFoundError):
            self.memory.set_expiry(engram.id, namespace=engram.namespace, expires_at=until)

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
        scope = self._under(op.namespace_prefix)
        if not scope or limit == 0:
            return []
        where = _where(op.filter)
        kept: list[tuple[Engram, float | None]] = []  # each with its score
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
            kept += [(h.engram, h.relevance) for h in hits[offset : offset + limit]]
        else:
            for name in scope:
                for engram in self._listed(name, where, offset + limit - len(kept)):
                    if offset:
                        offset -= 1
                    else:
                        kept.append((engram, None))
                if len(kept) >= limit:
                    break
        if op.refresh_ttl:
            for engram, _ in kept[:limit]:
                self._refresh(engram)
        return [_found(e, scope[e.namespace], score) for e, score in kept[:limit]]

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

    # -- expiry ----------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Erase this store's expired items now (``purge`` of each of its namespaces, with
        their history); the number erased. Until then an expired item is only unread."""
        start = self.root + ":"
        names = [n for n in self.memory.namespaces() if n.startswith(start)]
        return sum(len(d.ids) for n in names for d in self.memory.purge(namespace=n))

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep every ``sweep_interval_minutes`` (default: the TTL config's) in a daemon
        thread until ``stop_ttl_sweeper``; a sweeper already running is kept."""
        minutes = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes")
        if minutes is None:
            raise InvalidInputError(
                "give sweep_interval_minutes, here or in the store's TTL config"
            )
        seconds = _positive(minutes, "sweep_interval_minutes") * 60
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._sweeping.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_every, args=(seconds,), name="engramdb-langgraph-ttl", daemon=True
        )
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper; whether it has stopped within ``timeout`` seconds."""
        self._sweeping.set()
        if self._sweeper is None:
            return True
        self._sweeper.join(timeout)
        return not self._sweeper.is_alive()

    def _sweep_every(self, seconds: float) -> None:
        while not self._sweeping.wait(seconds):
            self.sweep_ttl()

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

    def _under(self, labels: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The store's namespaces whose labels start with ``labels``, by engramdb name."""
        _check_labels(labels)
        prefix = tuple(labels)
        start = self.root + ":"
        found: dict[str, tuple[str, ...]] = {}
        for name in self.memory.namespaces():
            parsed = _labels(name[len(start) :]) if name.startswith(start) else None
            if parsed is not None and parsed[: len(prefix)] == prefix:
                found[name] = parsed
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


def _positive(number: object, name: str) -> float:
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise InvalidInputError(f"{name} is a number of minutes, got {number!r}")
    if not math.isfinite(number) or not 0 < number <= _MOST_MINUTES:
        raise InvalidInputError(
            f"{name} is a positive number of minutes, at most {_MOST_MINUTES:.0f} "
            f"(100 years); got {number!r}"
        )
    return float(number)


def _minutes(ttl: object) -> float | None:
    """A put's time to live in minutes; None: it does not expire."""
    return None if ttl is None else _positive(ttl, "ttl")


def _ttl_config(config: object) -> TTLConfig | None:
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise InvalidInputError(f"ttl is LangGraph's TTLConfig, a mapping; got {config!r}")
    unknown = sorted(str(k) for k in config if k not in _TTL_OPTIONS)
    if unknown:
        raise InvalidInputError(f"ttl has unknown options {unknown}: use {list(_TTL_OPTIONS)}")
    _minutes(config.get("default_ttl"))
    if config.get("sweep_interval_minutes") is not None:
        _positive(config["sweep_interval_minutes"], "sweep_interval_minutes")
    for flag in ("refresh_on_read", "omit_expired"):
        if not isinstance(config.get(flag, True), bool):
            raise InvalidInputError(f"ttl {flag} is true or false, got {config[flag]!r}")
    return TTLConfig(**config)  # type: ignore[typeddict-item]


# -- namespace names ----------------------------------------------------------------------


def _check_labels(labels: object) -> None:
    """LangGraph's rule for a label: a non-empty string with no ``.`` and no NUL."""
    if not isinstance(labels, (tuple, list)):
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
