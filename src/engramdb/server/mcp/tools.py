"""The MCP tools: remember, recall, list_memories, context, consolidate, facts, delete,
purge, history, feedback, weights, reset_weights, the pinned profile's pin, unpin, profile and
profile_proposals, over one Memory, and the learning tools of ``server.mcp.lessons``
(experiences and concepts).

Argument names, defaults and help texts are the library's: each tool takes the
options of its ``Memory`` method as ``engramdb.options`` defines them
(``tests/test_options.py`` checks it). ``namespace`` may be left out: it is then the
namespace this server was configured with (``engram mcp --namespace``) or,
over HTTP, the one namespace the API key is scoped to. Over HTTP every tool
also checks the request's key (``ApiKey.allows``); over stdio the client is the
local user who started the process, as with the CLI.

``delete`` deletes one memory by id, ``delete_where`` those that pass a filter
(at least one condition; ``dry_run`` shows what would go), ``purge`` those that
expired (docs/expiry.md; ``remember`` takes ``expires_at``); erasing a whole
namespace is not offered to a model (it is ``DELETE /v1/namespaces/{ns}`` or
``engram forget-namespace``).
``forget`` is ``delete``'s old name, kept as an alias for one release
(docs/server.md): the same function, so it checks, deletes and audits alike.
``consolidate`` turns new episodes into facts and summaries (write access),
``facts`` lists them with when each held (read access); ``feedback`` judges a
recalled memory and ``reset_weights`` forgets what feedback taught (write
access), ``weights`` shows it (read access; docs/learning.md).

The tools that change memory (``remember``, ``consolidate``, ``delete``, ``feedback``,
``reset_weights``, ``delete_where``, ``purge``, ``pin``, ``unpin``) append an audit entry
(docs/security.md) with the REST verbs (``add``, ``consolidate``, ``delete``,
``feedback``, ``reset_weights``, ``delete_where``, ``purge``, ``pin``, ``unpin``; a dry run
changes nothing and is not audited): over HTTP one per call, refused ones included,
as the key id with the status the REST API would answer; over stdio one per call
that succeeded, as ``"mcp-stdio"`` with status 0, like a CLI command. Never the
arguments, and an id or namespace argument only when it has the shape of one.

No ``from __future__ import annotations``: the SDK reads the annotations at
runtime to build each tool's schema and to inject ``Context``.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from engramdb import Deletion, EngramError, Memory, __version__
from engramdb.clock import SystemClock
from engramdb.options import (
    ADD,
    CONSOLIDATE,
    CONTEXT,
    DELETE_WHERE,
    EMBED,
    FACTS,
    FEEDBACK,
    LIST,
    PIN,
    PROFILE,
    SEARCH,
    Operation,
)
from engramdb.security.audit import (
    MCP_STDIO_ACTOR,
    AuditRecord,
    append_beside,
    id_or_none,
    namespace_or_none,
)
from engramdb.security.keys import LOCAL_ADMIN, ApiKey
from engramdb.server.expiry import PurgeOut
from engramdb.server.mcp.lessons import add_learning_tools
from engramdb.server.profile import (
    PinIn,
    ProfileEntryOut,
    ProfileOut,
    ProfileProposalOut,
    ProposalsOut,
)
from engramdb.server.schemas import (
    ConsolidationOut,
    ContextOut,
    DeletionOut,
    EngramOut,
    FactOut,
    FactsOut,
    FeedbackOut,
    HistoryOut,
    HitOut,
    IsoTime,
    Kind,
    PageOut,
    RecallOut,
    VersionOut,
    WeightsOut,
    optional_where,
)
from engramdb.wire import error_code

__all__ = ["KEY_STATE", "build_mcp"]

#: Where the HTTP edge leaves the request's ApiKey (``request.state``).
KEY_STATE = "engramdb_key"

_INSTRUCTIONS = (
    "engramdb is a long-term memory. Call `remember` with each thing worth keeping "
    "(who said it, when it happened); call `recall` with a question to get the most "
    "relevant memories, best first, each with why it was recalled (pass `context`, the "
    "recent turns, for follow-ups like 'what about her sister?'); `list_memories` pages "
    "through a namespace in time order; `context` returns a "
    "ready prompt context within a token budget. `consolidate` turns new memories into "
    "facts, and `facts` lists them with when each held. `history` shows "
    "every version of a memory; `delete` deletes one, `delete_where` those that pass a "
    "filter (call it with `dry_run` first); `remember` takes `expires_at` for what should "
    "not be kept, and `purge` erases what expired. After using what `recall` "
    "returned, call `feedback` with the search_id and the memory's id (reward 1 "
    "useful, -1 not): recall learns what helps. "
    "`record_experience` keeps what was done in a situation and how well it worked, "
    "`recall_experiences` finds what worked before; `teach` learns a concept from a "
    "few examples, which `recall` then takes as `concept`. `pin` keeps a short entry "
    "(the user's name, a standing preference) in every context, first; `unpin` "
    "removes it; `profile` lists them, and `profile_proposals` suggests some from facts."
)

Namespace = Annotated[
    str | None, Field(description="Namespace to use (default: this server's namespace).")
]


def _where(op: Operation) -> Any:
    """A search's ``where``, its schema the grammar of engramdb.filters (docs/filters.md)."""
    return Field(description=op.help("where"), json_schema_extra=optional_where)


def _after(op: Operation) -> Any:
    return Field(description=op.help("occurred_after"))


def _before(op: Operation) -> Any:
    return Field(description=op.help("occurred_before"))


def _min_relevance(op: Operation) -> Any:
    """The relevance floor (docs/recall.md, "Relevance"): a probability."""
    return Field(description=op.help("min_relevance"), ge=0, le=1)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Library errors as tool errors: ``<code>: <message>`` (codes of ``engramdb.wire``)."""
    try:
        yield
    except EngramError as exc:
        raise ToolError(f"{error_code(exc).code}: {exc}") from exc


def _key(ctx: Context) -> ApiKey | None:
    request = ctx.request_context.request
    if request is None:  # stdio: the local user
        return None
    state = getattr(request, "state", None)
    key = getattr(state, KEY_STATE, None)
    if not isinstance(key, ApiKey):
        # The HTTP edge authenticates before the MCP app runs; no key here is a wiring bug.
        raise ToolError("unauthorized: no API key on this request")
    return key


@dataclass
class _Write:
    """What a memory-changing tool call is about to write, for its audit entry."""

    namespace: str
    target: str | None = None
    count: int | None = None


def build_mcp(
    memory: Memory,
    *,
    namespace: str = "default",
    audit: Callable[[AuditRecord], None] | None = None,
) -> MCPServer:
    """An MCP server whose tools act on ``memory``; ``namespace`` is the default.

    ``audit`` receives the audit entries; by default they go to the audit log
    beside ``memory``'s store, opened for each entry (none for ``:memory:``).
    """
    server: MCPServer = MCPServer(
        "engramdb", instructions=_INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    clock = SystemClock()

    def append(entry: AuditRecord) -> None:
        if audit is None:
            append_beside(memory.settings.path, entry)
        else:
            audit(entry)

    def resolve(key: ApiKey | None, chosen: str | None) -> str:
        if chosen is None:
            chosen = (key.home if key is not None else None) or namespace
        return chosen

    def scoped(ctx: Context, chosen: str | None, need: Literal["read", "write"]) -> str:
        key = _key(ctx)
        chosen = resolve(key, chosen)
        if key is not None and not key.allows(chosen, need):
            raise ToolError(f"forbidden: this API key may not {need} namespace {chosen!r}")
        return chosen

    @contextlib.contextmanager
    def writing(
        ctx: Context, chosen: str | None, action: str, target: str | None = None
    ) -> Iterator[_Write]:
        """The write-scope check, the write (errors translated), and its audit entry."""
        key = _key(ctx)
        write = _Write(resolve(key, chosen), target)
        status = 500
        try:
            if key is not None and not key.allows(write.namespace, "write"):
                status = 403
                raise ToolError(
                    f"forbidden: this API key may not write namespace {write.namespace!r}"
                )
            with _translated():
                yield write
            status = 201 if action in ("add", "record_experience", "teach") else 200  # as REST
        except ToolError as exc:
            if isinstance(exc.__cause__, EngramError):
                status = error_code(exc.__cause__).status
            raise
        finally:
            # stdio is the local user, as with the CLI: only what was done is recorded.
            if key is not None or status < 400:
                entry = AuditRecord(
                    at=clock.now(),
                    actor=MCP_STDIO_ACTOR if key is None else key.id,
                    action=action,
                    namespace=namespace_or_none(write.namespace),
                    target=id_or_none(write.target),
                    status=0 if key is None else status,
                    count=write.count,
                )
                with _translated():
                    append(entry)

    @server.tool()
    def remember(
        text: Annotated[str, Field(description="What happened or was said.")],
        ctx: Context,
        namespace: Namespace = None,
        session: Annotated[str | None, Field(description=ADD.help("session"))] = None,
        speaker: Annotated[str | None, Field(description=ADD.help("speaker"))] = None,
        occurred_at: Annotated[IsoTime | None, Field(description=ADD.help("occurred_at"))] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description=ADD.help("metadata"))] = None,
        importance: Annotated[float | None, Field(description=ADD.help("importance"))] = None,
        emotion: Annotated[str | None, Field(description=ADD.help("emotion"))] = None,
        idempotency_key: Annotated[
            str | None, Field(description=ADD.help("idempotency_key"))
        ] = None,
        embed: Annotated[
            str | None,
            Field(description=ADD.help("embed"), json_schema_extra={"enum": list(EMBED)}),
        ] = None,
        expires_at: Annotated[IsoTime | None, Field(description=ADD.help("expires_at"))] = None,
    ) -> EngramOut:
        """Remember one experience; returns it as stored, with its id. Already remembered
        (the same text, speaker, session and time, or a used idempotency key): the
        memory held, with ``repeated`` true (docs/repetition.md)."""
        with writing(ctx, namespace, "add") as write:
            engram = memory.add(
                text,
                namespace=write.namespace,
                session=session,
                speaker=speaker,
                occurred_at=occurred_at,
                metadata=metadata,
                importance=importance,
                emotion=emotion,
                idempotency_key=idempotency_key,
                embed=embed,
                expires_at=expires_at,
            )
            write.target = engram.id
        return EngramOut.of(engram)

    @server.tool()
    def recall(
        query: Annotated[str, Field(description="What to recall, in plain words.")],
        ctx: Context,
        namespace: Namespace = None,
        limit: Annotated[int, Field(description=SEARCH.help("limit"))] = 10,
        now: Annotated[IsoTime | None, Field(description=SEARCH.help("now"))] = None,
        neighbours: Annotated[int, Field(description=SEARCH.help("neighbours"))] = 0,
        include_dormant: Annotated[bool, Field(description=SEARCH.help("include_dormant"))] = False,
        reinforce: Annotated[bool, Field(description=SEARCH.help("reinforce"))] = True,
        emotion: Annotated[
            list[str] | str | None, Field(description=SEARCH.help("emotion"))
        ] = None,
        mood_congruent: Annotated[bool, Field(description=SEARCH.help("mood_congruent"))] = False,
        context: Annotated[
            list[str] | str | None, Field(description=SEARCH.help("context"))
        ] = None,
        as_of: Annotated[IsoTime | None, Field(description=SEARCH.help("as_of"))] = None,
        kinds: Annotated[list[Kind] | None, Field(description=SEARCH.help("kinds"))] = None,
        where: Annotated[dict[str, Any] | None, _where(SEARCH)] = None,
        occurred_after: Annotated[IsoTime | None, _after(SEARCH)] = None,
        occurred_before: Annotated[IsoTime | None, _before(SEARCH)] = None,
        min_relevance: Annotated[float, _min_relevance(SEARCH)] = 0.0,
        concept: Annotated[str | None, Field(description=SEARCH.help("concept"))] = None,
        namespaces: Annotated[
            list[str] | None, Field(description=SEARCH.help("namespaces"))
        ] = None,
        namespace_prefix: Annotated[
            str | None, Field(description=SEARCH.help("namespace_prefix"))
        ] = None,
    ) -> RecallOut:
        """The memories most relevant to the query, best first, each explained; of several
        namespaces with ``namespaces`` or ``namespace_prefix`` (each hit names its own)."""
        across = namespaces is not None or namespace_prefix is not None
        if across and namespace is not None:
            raise ToolError("invalid_input: give namespace, or namespaces / namespace_prefix")
        ns = "default" if across else scoped(ctx, namespace, "read")
        if across:  # what the key covers (over stdio: everything, as with the CLI)
            with _translated():
                key = _key(ctx) or LOCAL_ADMIN
                namespaces = key.scope(namespaces, namespace_prefix, memory.namespaces)
        with _translated():
            hits = memory.search(
                query,
                namespace=ns,
                namespaces=namespaces,
                limit=limit,
                now=now,
                neighbours=neighbours,
                include_dormant=include_dormant,
                reinforce=reinforce,
                emotion=emotion,
                mood_congruent=mood_congruent,
                context=context,
                as_of=as_of,
                kinds=kinds,
                where=where,
                occurred_after=occurred_after,
                occurred_before=occurred_before,
                min_relevance=min_relevance,
                concept=concept,
            )
        out = [HitOut.of(h) for h in hits]
        if namespaces is not None:
            return RecallOut(query=query, namespace=None, namespaces=namespaces, now=now, hits=out)
        return RecallOut(query=query, namespace=ns, now=now, hits=out)

    @server.tool()
    def list_memories(
        ctx: Context,
        namespace: Namespace = None,
        where: Annotated[dict[str, Any] | None, _where(LIST)] = None,
        occurred_after: Annotated[IsoTime | None, _after(LIST)] = None,
        occurred_before: Annotated[IsoTime | None, _before(LIST)] = None,
        kinds: Annotated[list[Kind] | None, Field(description=LIST.help("kinds"))] = None,
        order: Annotated[
            Literal["occurred_at", "recorded_at"], Field(description=LIST.help("order"))
        ] = "occurred_at",
        descending: Annotated[bool, Field(description=LIST.help("descending"))] = False,
        limit: Annotated[int, Field(description=LIST.help("limit"))] = 100,
        cursor: Annotated[str | None, Field(description=LIST.help("cursor"))] = None,
    ) -> PageOut:
        """A page of the namespace's memories in time order, with the cursor of the next
        page (pass it back as ``cursor``); null ``next_cursor``: the last page."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            page = memory.list(
                namespace=ns,
                where=where,
                occurred_after=occurred_after,
                occurred_before=occurred_before,
                kinds=kinds,
                order=order,
                descending=descending,
                limit=limit,
                cursor=cursor,
            )
        return PageOut.of(page)

    @server.tool(name="context")
    def context_tool(
        query: Annotated[str, Field(description="What the next reply is about.")],
        ctx: Context,
        namespace: Namespace = None,
        session: Annotated[str | None, Field(description=CONTEXT.help("session"))] = None,
        budget_tokens: Annotated[int, Field(description=CONTEXT.help("budget_tokens"))] = 1000,
        now: Annotated[IsoTime | None, Field(description=CONTEXT.help("now"))] = None,
        where: Annotated[dict[str, Any] | None, _where(CONTEXT)] = None,
        occurred_after: Annotated[IsoTime | None, _after(CONTEXT)] = None,
        occurred_before: Annotated[IsoTime | None, _before(CONTEXT)] = None,
        min_relevance: Annotated[float, _min_relevance(CONTEXT)] = 0.0,
    ) -> ContextOut:
        """A ready prompt context: recent turns, relevant memories and mood, within a budget."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            bundle = memory.context(
                query,
                namespace=ns,
                session=session,
                budget_tokens=budget_tokens,
                now=now,
                where=where,
                occurred_after=occurred_after,
                occurred_before=occurred_before,
                min_relevance=min_relevance,
            )
        return ContextOut.of(bundle)

    @server.tool()
    def consolidate(
        ctx: Context,
        namespace: Namespace = None,
        now: Annotated[IsoTime | None, Field(description=CONSOLIDATE.help("now"))] = None,
    ) -> ConsolidationOut:
        """Turn new episodes into facts and summaries (incremental; safe to repeat)."""
        with writing(ctx, namespace, "consolidate") as write:
            report = memory.consolidate(namespace=write.namespace, now=now)
            write.count = report.facts + report.summaries
        return ConsolidationOut.of(report)

    @server.tool()
    def facts(
        ctx: Context,
        namespace: Namespace = None,
        subject: Annotated[str | None, Field(description=FACTS.help("subject"))] = None,
        attribute: Annotated[str | None, Field(description=FACTS.help("attribute"))] = None,
        as_of: Annotated[IsoTime | None, Field(description=FACTS.help("as_of"))] = None,
    ) -> FactsOut:
        """What consolidation knows: subject, attribute and value, with when each held
        (current and past values; ``as_of`` keeps those true then)."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            found = memory.facts(namespace=ns, subject=subject, attribute=attribute, as_of=as_of)
        return FactsOut(namespace=ns, as_of=as_of, facts=[FactOut.of(f) for f in found])

    @server.tool()
    def delete(
        id: Annotated[str, Field(description="The memory's id (32 hex digits).")],
        ctx: Context,
        namespace: Namespace = None,
    ) -> dict[str, str]:
        """Delete one memory with its whole history."""
        with writing(ctx, namespace, "delete", target=id) as write:
            memory.delete(id, namespace=write.namespace)
        return {"deleted": id, "namespace": write.namespace}

    @server.tool()
    def delete_where(
        ctx: Context,
        namespace: Namespace = None,
        where: Annotated[dict[str, Any] | None, _where(DELETE_WHERE)] = None,
        kinds: Annotated[list[Kind] | None, Field(description=DELETE_WHERE.help("kinds"))] = None,
        occurred_after: Annotated[IsoTime | None, _after(DELETE_WHERE)] = None,
        occurred_before: Annotated[IsoTime | None, _before(DELETE_WHERE)] = None,
        dry_run: Annotated[bool, Field(description=DELETE_WHERE.help("dry_run"))] = False,
    ) -> DeletionOut:
        """Delete every memory that passes the filter (at least one condition), with the
        facts and summaries it takes along; ``dry_run`` first shows what would go."""

        def delete(chosen: str, dry: bool) -> Deletion:
            return memory.delete_where(
                namespace=chosen,
                where=where,
                kinds=kinds,
                occurred_after=occurred_after,
                occurred_before=occurred_before,
                dry_run=dry,
            )

        if dry_run:  # changes nothing, so no audit entry; it needs write access all the same
            ns = scoped(ctx, namespace, "write")
            with _translated():
                return DeletionOut.of(delete(ns, True))
        with writing(ctx, namespace, "delete_where") as write:
            report = delete(write.namespace, False)
            write.count = report.count
        return DeletionOut.of(report)

    @server.tool()
    def purge(ctx: Context, namespace: Namespace = None) -> PurgeOut:
        """Erase the namespace's expired memories (docs/expiry.md), with the facts and
        summaries they take along; nothing when none has expired."""
        with writing(ctx, namespace, "purge") as write:
            done = memory.purge(namespace=write.namespace)
            write.count = sum(d.count for d in done)
        return PurgeOut(deletions=[DeletionOut.of(d) for d in done])

    # ``delete``'s name before the rename (docs/server.md), kept for one release: the
    # same function, so it checks the key, deletes and is audited (as ``delete``) alike.
    server.add_tool(
        delete,
        name="forget",
        description="Deprecated: the old name of `delete`, removed in the next release. "
        "Delete one memory with its whole history.",
    )

    add_learning_tools(server, memory, scoped, writing, _translated)

    @server.tool()
    def history(
        id: Annotated[str, Field(description="The memory's id (32 hex digits).")],
        ctx: Context,
        namespace: Namespace = None,
    ) -> HistoryOut:
        """Every version of a memory, oldest first, with when each was valid."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            versions = memory.history(id, namespace=ns)
        return HistoryOut(id=id, namespace=ns, versions=[VersionOut.of(v) for v in versions])

    @server.tool()
    def feedback(
        search_id: Annotated[str, Field(description=FEEDBACK.help("search_id"))],
        memory_id: Annotated[str, Field(description="The id of the memory the hit returned.")],
        reward: Annotated[
            float, Field(description="How useful the hit was: 1 useful, -1 not.", ge=-1, le=1)
        ],
        ctx: Context,
        namespace: Namespace = None,
        now: Annotated[IsoTime | None, Field(description=FEEDBACK.help("now"))] = None,
    ) -> FeedbackOut:
        """Say how useful a recalled memory was; recall learns from it (docs/learning.md)."""
        with writing(ctx, namespace, "feedback", target=memory_id) as write:
            judged = memory.feedback(
                memory_id, reward, namespace=write.namespace, search_id=search_id, now=now
            )
        return FeedbackOut.of(judged)

    @server.tool()
    def weights(ctx: Context, namespace: Namespace = None) -> WeightsOut:
        """How recall weighs each signal in the namespace, and how far feedback moved it."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            return WeightsOut.of(memory.weights(namespace=ns))

    @server.tool()
    def reset_weights(ctx: Context, namespace: Namespace = None) -> WeightsOut:
        """Forget what feedback taught recall in the namespace: back to the shipped weights."""
        with writing(ctx, namespace, "reset_weights") as write:
            reset = memory.reset_weights(namespace=write.namespace)
        return WeightsOut.of(reset)

    @server.tool()
    def pin(
        key: Annotated[str, Field(description="The entry's key, e.g. name or diet.")],
        text: Annotated[str, PinIn.model_fields["text"]],
        ctx: Context,
        namespace: Namespace = None,
        source_id: Annotated[str | None, Field(description=PIN.help("source_id"))] = None,
    ) -> ProfileEntryOut:
        """Pin a short entry that every context shows first (a new version when the key
        is pinned with other text; nothing is overwritten)."""
        with writing(ctx, namespace, "pin") as write:
            entry = memory.pin(key, text, namespace=write.namespace, source_id=source_id)
        return ProfileEntryOut.of(entry)

    @server.tool()
    def unpin(
        key: Annotated[str, Field(description="The entry's key.")],
        ctx: Context,
        namespace: Namespace = None,
    ) -> ProfileEntryOut:
        """Stop showing a pinned entry; its version is kept, closed."""
        with writing(ctx, namespace, "unpin") as write:
            entry = memory.unpin(key, namespace=write.namespace)
        return ProfileEntryOut.of(entry)

    @server.tool()
    def profile(
        ctx: Context,
        namespace: Namespace = None,
        as_of: Annotated[IsoTime | None, Field(description=PROFILE.help("as_of"))] = None,
        history: Annotated[bool, Field(description=PROFILE.help("history"))] = False,
    ) -> ProfileOut:
        """The pinned profile by key: now, at ``as_of``, or every version."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            found = memory.profile(namespace=ns, as_of=as_of, history=history)
        entries = [ProfileEntryOut.of(e) for e in found]
        return ProfileOut(namespace=ns, as_of=as_of, history=history, entries=entries)

    @server.tool()
    def profile_proposals(ctx: Context, namespace: Namespace = None) -> ProposalsOut:
        """Profile entries proposed from stable facts; accept one with ``pin`` and its
        ``fact_id`` as ``source_id``."""
        ns = scoped(ctx, namespace, "read")
        with _translated():
            found = memory.profile_proposals(namespace=ns)
        return ProposalsOut(namespace=ns, proposals=[ProfileProposalOut.of(p) for p in found])

    return server
