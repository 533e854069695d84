"""The HTTP request of each ``MemoryAPI`` method, and how its answer reads back.

``Requests`` has one method per method of ``MemoryAPI``, with its signature and
defaults; each checks what the client checks before sending (a namespace or id
becomes a path segment), builds the request and returns it as a ``Call``: the
method, path and JSON body, and ``read``, which turns the server's JSON answer
into the method's result through ``engramdb.wire``. It sends nothing (no I/O),
so the blocking ``Client`` and the ``AsyncClient`` are each one line per
method over the same definition (``engramdb.client``): a new method of the API
is written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from engramdb import wire
from engramdb.config import Limits
from engramdb.errors import InvalidInputError
from engramdb.filters import parse
from engramdb.model import (
    Budget,
    Concept,
    ConsolidationReport,
    ContextBundle,
    Deletion,
    Engram,
    Experience,
    ExperienceHit,
    Fact,
    Feedback,
    Hit,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    ProfileEntry,
    ProfileProposal,
    Version,
)
from engramdb.validation import check_id, check_key, check_namespace

__all__ = ["DEFAULT_NAMESPACE", "Call", "Requests"]

DEFAULT_NAMESPACE = "default"
_LIMITS = Limits()  # the server checks again with its own
T = TypeVar("T")


def _nothing(found: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to the server (``method`` None: answered without one) and its reader."""

    method: str | None
    path: str
    body: Any
    read: Callable[[Any], T]

    @staticmethod
    def answered(value: T) -> Call[T]:
        """A call the client answers itself: nothing to send."""
        return Call(None, "", None, lambda _: value)


class Requests:
    """The request of each ``MemoryAPI`` method; the docstrings are the client's."""

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
        expires_at: datetime | None = None,
    ) -> Call[Engram]:
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
                "expires_at": expires_at,
            }
        )
        return Call("POST", _ns(namespace, "engrams"), body, lambda f: wire.from_json(Engram, f))

    def add_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        embed: str | None = None,
    ) -> Call[list[Engram]]:
        """Remember several experiences in one transaction (all or none); ``embed`` as
        ``add``'s, for the whole batch."""
        if isinstance(items, (str, bytes, Mapping)):
            raise InvalidInputError("items must be an iterable of mappings (one per memory)")
        batch = [_item(item) for item in items]
        path = _ns(namespace, "engrams/batch")
        if not batch:
            return Call.answered([])
        body: dict[str, Any] = {"items": batch}
        if embed is not None:
            body["embed"] = embed
        return Call("POST", path, body, lambda f: [wire.from_json(Engram, e) for e in f["engrams"]])

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
    ) -> Call[Engram]:
        """Write a new version; the old one stays in ``history`` with its validity closed."""
        fields = {
            "text": text,
            "speaker": speaker,
            "occurred_at": occurred_at,
            "metadata": metadata,
            "now": now,
        }
        body = {k: wire.encode(v, k) for k, v in fields.items() if v is not None}
        path = _ns(namespace, "engrams", _segment(id, "id"))
        return Call("PATCH", path, body, lambda f: wire.from_json(Engram, f))

    def delete(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Call[None]:
        """Remove a memory with its whole history and index entries."""
        return Call("DELETE", _ns(namespace, "engrams", _segment(id, "id")), None, _nothing)

    def delete_where(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        where: Mapping[str, Any] | None = None,
        kinds: str | Iterable[str] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        dry_run: bool = False,
    ) -> Call[Deletion]:
        """Delete every memory that passes the filter, derived ones taken along
        (``Memory.delete_where``); ``dry_run`` reports what would go."""
        options = {
            **_filters(where, occurred_after, occurred_before),
            "kinds": [kinds] if isinstance(kinds, str) else None if kinds is None else list(kinds),
            "dry_run": dry_run,
        }
        body = {k: wire.encode(v, k) for k, v in options.items()}
        path = _ns(namespace, "delete-where")
        return Call("POST", path, body, lambda f: wire.from_json(Deletion, f))

    def forget_namespace(self, namespace: str) -> Call[int]:
        """Erase a namespace entirely; returns how many memories it held."""
        return Call("DELETE", _ns(namespace), None, lambda f: int(f["forgotten"]))

    # -- reads ------------------------------------------------------------------

    def get(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Call[Engram]:
        """The memory ``id`` as it is now."""
        path = _ns(namespace, "engrams", _segment(id, "id"))
        return Call("GET", path, None, lambda f: wire.from_json(Engram, f))

    def history(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Call[list[Version]]:
        """Every version of a memory, oldest first, with validity intervals."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "history")
        return Call(
            "GET",
            path,
            None,
            lambda f: [wire.from_json(Version, v, engram_id=f["id"]) for v in f["versions"]],
        )

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
        concept: str | None = None,
        namespaces: Iterable[str] | None = None,
        namespace_prefix: str | None = None,
    ) -> Call[list[Hit]]:
        """The memories most relevant to ``query``, best first, each explained; of several
        namespaces with ``namespaces`` or ``namespace_prefix`` (``POST /v1/search``)."""
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
            "concept": concept,
        }
        body = {"query": query, **{k: wire.encode(v, k) for k, v in options.items()}}
        path = _ns(namespace, "search")
        if namespaces is not None or namespace_prefix is not None:
            path = "/v1/search"
            body |= _scope(namespace, namespaces, namespace_prefix)
        return Call("POST", path, body, lambda f: [wire.from_json(Hit, h) for h in f["hits"]])

    def neighbours(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, before: int = 1, after: int = 1
    ) -> Call[list[Engram]]:
        """The turns around a memory in its session (not including it), in order."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "neighbours")
        return Call(
            "GET",
            _query(path, {"before": before, "after": after}),
            None,
            lambda f: [wire.from_json(Engram, e) for e in f["neighbours"]],
        )

    def namespaces(self) -> Call[list[str]]:
        """The namespaces that hold memories (those the key may read)."""
        return Call("GET", "/v1/namespaces", None, lambda f: list(f["namespaces"]))

    def stats(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[NamespaceStats]:
        """Counts and time span of the namespace."""
        return Call(
            "GET", _ns(namespace, "stats"), None, lambda f: wire.from_json(NamespaceStats, f)
        )

    # -- consolidation (docs/consolidation.md) ----------------------------------

    def consolidate(
        self, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None
    ) -> Call[ConsolidationReport]:
        """Turn the namespace's new episodes into facts and summaries; idempotent."""
        body = {} if now is None else {"now": wire.encode(now, "now")}
        return Call(
            "POST",
            _ns(namespace, "consolidate"),
            body,
            lambda f: wire.from_json(ConsolidationReport, f),
        )

    def facts(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        subject: str | None = None,
        attribute: str | None = None,
        as_of: datetime | None = None,
    ) -> Call[list[Fact]]:
        """Consolidated facts, every past value included (``Memory.facts``)."""
        params = {"subject": subject, "attribute": attribute, "as_of": wire.encode(as_of, "as_of")}
        return Call(
            "GET",
            _query(_ns(namespace, "facts"), params),
            None,
            lambda f: [wire.from_json(Fact, x) for x in f["facts"]],
        )

    # -- the pinned profile (docs/profile.md) -----------------------------------

    def pin(
        self,
        key: str,
        text: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        source_id: str | None = None,
    ) -> Call[ProfileEntry]:
        """Pin ``text`` under ``key``; ``context`` shows it first (``Memory.pin``)."""
        path = _ns(namespace, "profile", _segment(key, "key"))
        body = {"text": text, "source_id": source_id}
        return Call("PUT", path, body, lambda f: wire.from_json(ProfileEntry, f))

    def unpin(self, key: str, *, namespace: str = DEFAULT_NAMESPACE) -> Call[ProfileEntry]:
        """Stop showing ``key``; returns its version, closed (``Memory.unpin``)."""
        path = _ns(namespace, "profile", _segment(key, "key"))
        return Call("DELETE", path, None, lambda f: wire.from_json(ProfileEntry, f))

    def profile(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        as_of: datetime | None = None,
        history: bool = False,
    ) -> Call[list[ProfileEntry]]:
        """The pinned entries, by key: now, at ``as_of``, or every version (``Memory.profile``)."""
        params = {"as_of": wire.encode(as_of, "as_of"), "history": "true" if history else None}
        return Call(
            "GET",
            _query(_ns(namespace, "profile"), params),
            None,
            lambda f: [wire.from_json(ProfileEntry, e) for e in f["entries"]],
        )

    def profile_proposals(
        self, *, namespace: str = DEFAULT_NAMESPACE
    ) -> Call[list[ProfileProposal]]:
        """Entries proposed from stable facts (``Memory.profile_proposals``)."""
        return Call(
            "GET",
            _ns(namespace, "profile-proposals"),
            None,
            lambda f: [wire.from_json(ProfileProposal, p) for p in f["proposals"]],
        )

    # -- working memory and context (docs/context.md) ---------------------------

    def working(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str,
        max_turns: int = 20,
        max_tokens: int | None = None,
    ) -> Call[list[Engram]]:
        """The session's latest turns, oldest first (``Memory.working``)."""
        params = {"max_turns": str(max_turns)}
        if max_tokens is not None:
            params["max_tokens"] = str(max_tokens)
        path = _ns(namespace, f"sessions/{quote(session, safe='')}/working")
        return Call(
            "GET",
            f"{path}?{urlencode(params)}",
            None,
            lambda f: [wire.from_json(Engram, t) for t in f["turns"]],
        )

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
    ) -> Call[ContextBundle]:
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
        return Call(
            "POST", _ns(namespace, "context"), body, lambda f: wire.from_json(ContextBundle, f)
        )

    def mood(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        window: timedelta = timedelta(days=7),
        now: datetime | None = None,
    ) -> Call[Mood]:
        """Valence and arousal over the last ``window`` (``Memory.mood``)."""
        params = {"window_days": str(window.total_seconds() / 86_400)}
        if now is not None:
            params["now"] = wire.time_to_json(now, "now")
        path = f"{_ns(namespace, 'mood')}?{urlencode(params)}"
        return Call("GET", path, None, lambda f: wire.from_json(Mood, f))

    # -- memory dynamics (docs/dynamics.md) -------------------------------------

    def flush(self) -> Call[int]:
        """Have the server write its queued recalls now (an admin key); memories updated."""
        return Call("POST", "/v1/flush", None, lambda f: int(f["flushed"]))

    def retention(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None
    ) -> Call[float]:
        """R(now) of a memory on its forgetting curve (``Memory.retention``)."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "retention")
        path = _query(path, {"now": wire.encode(now, "now")})
        return Call("GET", path, None, lambda f: float(f["retention"]))

    def curve(
        self,
        id: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        days: float = 365.0,
        points: int = 200,
    ) -> Call[tuple[list[datetime], list[float]]]:
        """A memory's forgetting curve from its last use: times and R values."""
        path = _ns(namespace, "engrams", _segment(id, "id"), "curve")
        return Call(
            "GET",
            _query(path, {"days": days, "points": points}),
            None,
            lambda f: (
                [wire.time_from_json(t, "times") for t in f["times"]],
                list(f["retention"]),
            ),
        )

    def set_budget(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        max_memories: int | None = None,
        max_bytes: int | None = None,
    ) -> Call[None]:
        """Store the namespace's budget on the server; both None removes it."""
        body = {"max_memories": max_memories, "max_bytes": max_bytes}
        return Call("PUT", _ns(namespace, "budget"), body, _nothing)

    def budget(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[Budget | None]:
        """The namespace's stored budget, or None when it has none."""
        return Call("GET", _ns(namespace, "budget"), None, _budget)

    # -- expiry (docs/expiry.md) ------------------------------------------------

    def set_expiry(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, expires_at: datetime | None
    ) -> Call[Engram]:
        """Set, move or clear (None) when a memory expires; no new version is written."""
        body = {"expires_at": None if expires_at is None else wire.encode(expires_at, "expires_at")}
        path = _ns(namespace, "engrams", _segment(id, "id"), "expiry")
        return Call("PUT", path, body, lambda f: wire.from_json(Engram, f))

    def set_ttl(self, ttl: timedelta | None, *, namespace: str = DEFAULT_NAMESPACE) -> Call[None]:
        """Store the namespace's default time to live on the server; None removes it."""
        if ttl is not None and not isinstance(ttl, timedelta):
            raise InvalidInputError("ttl must be a timedelta or None")
        body = {"ttl_s": None if ttl is None else ttl.total_seconds()}
        return Call("PUT", _ns(namespace, "ttl"), body, _nothing)

    def ttl(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[timedelta | None]:
        """The namespace's default time to live, or None when it has none."""
        return Call("GET", _ns(namespace, "ttl"), None, _ttl)

    def purge(self, *, namespace: str | None = None) -> Call[list[Deletion]]:
        """Erase the expired memories of ``namespace`` (None: of every namespace the key
        may write); one ``Deletion`` per namespace that had some."""
        path = "/v1/purge" if namespace is None else _ns(namespace, "purge")
        return Call(
            "POST", path, {}, lambda f: [wire.from_json(Deletion, d) for d in f["deletions"]]
        )

    def fade(self, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None) -> Call[int]:
        """Make dormant what has faded at ``now`` or exceeds the budget; how many did."""
        body = {} if now is None else {"now": wire.encode(now, "now")}
        return Call("POST", _ns(namespace, "fade"), body, lambda f: int(f["dormant"]))

    # -- learning (docs/learning.md) -----------------------------------------------------

    def feedback(
        self,
        hit: Hit | str,
        reward: float,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        search_id: str | None = None,
        now: datetime | None = None,
    ) -> Call[Feedback]:
        """Judge a hit of a search on the server (``Memory.feedback``): the server that
        ran the search remembers what it showed."""
        named: str | None
        if isinstance(hit, Hit):
            engram_id, named = hit.engram.id, search_id or hit.search_id
        else:
            engram_id, named = hit, search_id
        if not named:
            raise InvalidInputError("feedback needs the search_id of the search that returned it")
        body = {
            "search_id": named,
            "engram_id": engram_id,
            "reward": reward,
            "now": wire.encode(now, "now"),
        }
        return Call("POST", _ns(namespace, "feedback"), body, lambda f: wire.from_json(Feedback, f))

    def weights(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[NamespaceWeights]:
        """The namespace's ranker weights, each with the prior's and its shift from it."""
        return Call(
            "GET", _ns(namespace, "weights"), None, lambda f: wire.from_json(NamespaceWeights, f)
        )

    def reset_weights(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[NamespaceWeights]:
        """Rank with the prior again; the namespace's learned weights and feedback go."""
        return Call(
            "DELETE", _ns(namespace, "weights"), None, lambda f: wire.from_json(NamespaceWeights, f)
        )

    # experiences and concepts

    def record_experience(
        self,
        situation: str,
        action: str,
        outcome: str,
        reward: float,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        occurred_at: datetime | None = None,
    ) -> Call[Experience]:
        """Remember what was done in a situation and how well it worked (-1 to 1)."""
        body = {
            "situation": situation,
            "action": action,
            "outcome": outcome,
            "reward": reward,
            "occurred_at": wire.encode(occurred_at, "occurred_at"),
        }
        return Call(
            "POST",
            _ns(namespace, "experiences"),
            body,
            lambda f: wire.from_json(Experience, f),
        )

    def recall_experiences(
        self,
        situation: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        limit: int = 5,
        now: datetime | None = None,
        reinforce: bool = True,
    ) -> Call[list[ExperienceHit]]:
        """The experiences of similar situations, the most useful first."""
        body = {
            "situation": situation,
            "limit": limit,
            "now": wire.encode(now, "now"),
            "reinforce": reinforce,
        }
        return Call(
            "POST",
            _ns(namespace, "experiences", "recall"),
            body,
            lambda f: [wire.from_json(ExperienceHit, h) for h in f["experiences"]],
        )

    def teach(
        self, concept: str, examples: Iterable[str], *, namespace: str = DEFAULT_NAMESPACE
    ) -> Call[Concept]:
        """Teach a concept from examples, or refine it with more (``Memory.teach``)."""
        given = examples if isinstance(examples, str) else list(examples)
        body = {"concept": concept, "examples": given}
        return Call("POST", _ns(namespace, "concepts"), body, lambda f: wire.from_json(Concept, f))

    def concepts(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[list[Concept]]:
        """The namespace's concepts with their support (``Memory.concepts``)."""
        return Call("GET", _ns(namespace, "concepts"), None, _concepts)

    def retag(self, *, namespace: str = DEFAULT_NAMESPACE) -> Call[list[Concept]]:
        """Compute the concepts' prototypes again (``Memory.retag``)."""
        return Call("POST", _ns(namespace, "concepts", "retag"), {}, _concepts)

    # -- listing (docs/scopes.md); last: below it, ``list`` would name this method -----

    def list(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        kinds: str | Iterable[str] | None = None,
        order: str = "occurred_at",
        descending: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Call[Page]:
        """A page of the namespace's memories, and the cursor of the next (``Memory.list``)."""
        options = {
            **_filters(where, occurred_after, occurred_before),
            "kinds": [kinds] if isinstance(kinds, str) else None if kinds is None else list(kinds),
            "order": order,
            "descending": descending,
            "limit": limit,
            "cursor": cursor,
        }
        body = {k: wire.encode(v, k) for k, v in options.items()}
        return Call("POST", _ns(namespace, "list"), body, lambda f: wire.from_json(Page, f))


def _concepts(found: Any) -> list[Concept]:
    return [wire.from_json(Concept, c) for c in found["concepts"]]


def _scope(namespace: str, namespaces: Iterable[str] | None, prefix: str | None) -> dict[str, Any]:
    """What a search of several namespaces names (docs/scopes.md): the one given."""
    if namespace != DEFAULT_NAMESPACE:
        raise InvalidInputError(
            "give namespace, or namespaces / namespace_prefix to search several, not both"
        )
    if namespaces is None:
        return {"namespace_prefix": prefix}
    if isinstance(namespaces, str):
        raise InvalidInputError("namespaces must be a list of namespace names, not a string")
    given = {"namespaces": list(namespaces)}
    return given if prefix is None else given | {"namespace_prefix": prefix}


def _ttl(found: Any) -> timedelta | None:
    seconds = found.get("ttl_s")
    return None if seconds is None else timedelta(seconds=float(seconds))


def _budget(found: Any) -> Budget | None:
    budget = wire.from_json(Budget, found)
    return None if budget == Budget() else budget


def _ns(namespace: str, *parts: str) -> str:
    return "/v1/namespaces/" + "/".join([_segment(namespace, "namespace"), *parts])


def _segment(value: object, name: str) -> str:
    """A namespace, id or profile key checked as ``Memory`` checks it, before it becomes a
    path segment (a "/" or ".." in it would otherwise name another route); then
    percent-encoded."""
    if name == "namespace":
        checked = check_namespace(value, _LIMITS)
    else:
        checked = check_key(value) if name == "key" else check_id(value)
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
