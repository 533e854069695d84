"""One definition of each operation's options, for every surface that offers it.

``Memory`` is the reference. ``ADD``, ``SEARCH``, ``CONTEXT``, ``CONSOLIDATE``,
``FACTS``, ``FEEDBACK``, ``WEIGHTS``, ``RESET_WEIGHTS``, ``DELETE_WHERE``, ``PURGE``,
``LIST`` and
the pinned profile's ``PIN``, ``UNPIN``, ``PROFILE`` and ``PROFILE_PROPOSALS`` name
every keyword option of the ``Memory`` method of that name (the positional arguments
aside), with its default and one help text; each also names where a surface offers the
operation: the ``engram`` command, the HTTP route, the MCP tool. The CLI, the HTTP
schemas and the MCP tools take their help texts from here, and ``tests/test_options.py``
checks that the CLI, HTTP, MCP and ``Client`` each offer every option, unless the option
says why that surface leaves it out (the default is every option everywhere).
``LOCAL_ONLY`` names the ``Memory`` members ``Client`` does not have, each with its
reason; everything else of ``Memory`` is on ``Client`` too.

Pure data: it imports nothing of ours and nothing heavy, so every layer may
import it. It neither validates values (``validation``) nor shapes them on the
wire (``server/schemas.py``). ``server/options.py`` is another thing: how a
server runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ADD",
    "CONCEPTS",
    "CONSOLIDATE",
    "CONTEXT",
    "DELETE_WHERE",
    "EMBED",
    "FACTS",
    "FEEDBACK",
    "LIST",
    "LIST_ORDERS",
    "LOCAL_ONLY",
    "MAX_NAMESPACES",
    "OPERATIONS",
    "PIN",
    "PROFILE",
    "PROFILE_PROPOSALS",
    "PURGE",
    "RECALL_EXPERIENCES",
    "RECORD_EXPERIENCE",
    "RESET_WEIGHTS",
    "RETAG",
    "SEARCH",
    "SURFACES",
    "TEACH",
    "UNPIN",
    "WEIGHTS",
    "Operation",
    "Option",
    "Surface",
]

Surface = Literal["cli", "http", "mcp", "client"]
SURFACES: tuple[Surface, ...] = ("cli", "http", "mcp", "client")


@dataclass(frozen=True, slots=True)
class Option:
    """One keyword option of a ``Memory`` method, as every surface offers it.

    ``flags`` are the CLI options that carry it (default: ``--`` and the name
    with dashes); ``left_out`` maps a surface that leaves it out on purpose to
    the reason.
    """

    name: str
    help: str
    default: object = None
    flags: tuple[str, ...] = ()
    left_out: Mapping[Surface, str] = field(default_factory=dict, hash=False)

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)


@dataclass(frozen=True, slots=True)
class Operation:
    """A ``Memory`` method (``name``) and its options; ``command`` is the ``engram``
    command, ``route`` the HTTP method and path, ``tool`` the MCP tool."""

    name: str
    options: tuple[Option, ...]
    command: str
    route: tuple[str, str]
    tool: str

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(f"{self.name} has no option {name!r}")

    def help(self, name: str) -> str:
        """The option's help text: the one every surface shows."""
        return self.option(name).help

    def on(self, surface: Surface) -> tuple[Option, ...]:
        """The options ``surface`` offers."""
        return tuple(o for o in self.options if surface not in o.left_out)

    def left_out(self, surface: Surface) -> dict[str, str]:
        """The options ``surface`` leaves out on purpose, each with its reason."""
        return {o.name: o.left_out[surface] for o in self.options if surface in o.left_out}


_NS = "/v1/namespaces/{namespace}"
_EMOTIONS = "anger, disgust, fear, joy, neutral, sadness, surprise"
_ISO = "ISO 8601 with a timezone"

_NAMESPACE = Option("namespace", "The namespace to act on.", "default")
# A search's filters (docs/filters.md): search and context take them alike.
_FILTERS = (
    Option(
        "where",
        "Only memories whose speaker, session or metadata pass these conditions, a JSON "
        'object: {"speaker": "Maya", "metadata.topic": {"$in": ["work", "home"]}} '
        "(docs/filters.md).",
    ),
    Option("occurred_after", f"Only memories of events at or after this time, {_ISO}."),
    Option("occurred_before", f"Only memories of events before this time, {_ISO}."),
)
# The relevance floor (docs/recall.md, "Relevance"): search and context take it alike.
_MIN_RELEVANCE = Option(
    "min_relevance",
    "Only hits at least this likely to be relevant, 0 to 1 (each hit's calibrated "
    "relevance); nothing when nothing is (docs/recall.md).",
    0.0,
)

#: The most namespaces one search reads (docs/scopes.md): each is searched on its own.
MAX_NAMESPACES = 1_000
# The route of one namespace's search leaves the cross-namespace options to its own route.
_ACROSS = "the route of one namespace; POST /v1/search takes it (docs/scopes.md)"

#: When a write's vector is computed (docs/write-path.md): before the write returns, or
#: by the background embedder after it; ``Settings.embed`` is the store's default.
EMBED: tuple[str, ...] = ("now", "later")

ADD = Operation(
    name="add",
    options=(
        _NAMESPACE,
        Option("session", "Session label (one line)."),
        Option("speaker", "Who said or did it."),
        Option("occurred_at", f"When it happened, {_ISO} (default: now)."),
        Option("metadata", 'A JSON object, kept as is, e.g. {"dia_id": "D1:3"}.'),
        Option(
            "importance",
            "0 to 1: how much it matters; replaces the estimate from the text (docs/dynamics.md).",
        ),
        Option(
            "emotion",
            f"An emotion label ({_EMOTIONS}); replaces the estimate from the text.",
        ),
        Option(
            "idempotency_key",
            "A key of the caller's for this write (one line): a retry with the same key "
            "returns the memory the first write stored, changing nothing; other content "
            "under a used key is a conflict (docs/repetition.md).",
        ),
        Option(
            "embed",
            "When its vector is computed: now (before the write returns) or later (by the "
            "background embedder: found by its words at once, by its meaning when the vector "
            "arrives; docs/write-path.md). Default: the store's setting.",
        ),
        Option(
            "expires_at",
            f"When it expires, {_ISO}, after now: from then on no read returns it and a "
            "purge erases it (default: the namespace's TTL, if any; docs/expiry.md).",
        ),
    ),
    command="add",
    route=("POST", f"{_NS}/engrams"),
    tool="remember",
)

SEARCH = Operation(
    name="search",
    options=(
        _NAMESPACE,
        Option("limit", "How many hits at most.", 10),
        Option(
            "now",
            f"Reference time for recency and for 'last week' in the query, {_ISO} (default: now).",
        ),
        Option("neighbours", "Also return the N turns before and after each hit (0 to 20).", 0),
        Option(
            "include_dormant",
            "Also search dormant (faded) memories (docs/dynamics.md).",
            False,
        ),
        Option("reinforce", "Count the hits as recalled: their stability grows.", True),
        Option("emotion", "Only memories with this emotion label (or labels)."),
        Option("mood_congruent", "Lean toward memories of the query's own tone.", False),
        Option(
            "context",
            "The conversation so far: recent turns ('Name: text' names the speaker), "
            "oldest first, or a session id meaning that session's working memory. "
            "Resolves 'she', 'his' etc. and keeps recall on topic (docs/context.md).",
            # A list of turns or a session id: two CLI options, one option everywhere else.
            flags=("--context", "--context-session"),
        ),
        Option(
            "as_of",
            f"Answer with what was true at this event time, {_ISO} (docs/consolidation.md).",
        ),
        Option(
            "kinds",
            "Kinds of memory to return: episode, fact, summary, experience, concept, or "
            "several (default: episodes, with facts and summaries as extra keys).",
        ),
        *_FILTERS,
        _MIN_RELEVANCE,
        Option(
            "concept",
            "Only memories that belong to this taught concept (docs/learning.md).",
        ),
        Option(
            "namespaces",
            "Search these namespaces together instead of one: their hits ranked on one scale "
            "(each hit's relevance), each naming its namespace (docs/scopes.md).",
            left_out={"http": _ACROSS},
        ),
        Option(
            "namespace_prefix",
            "Search every namespace whose name starts with this, e.g. org-1: (docs/scopes.md).",
            left_out={"http": _ACROSS},
        ),
    ),
    command="search",
    route=("POST", f"{_NS}/search"),
    tool="recall",
)

CONTEXT = Operation(
    name="context",
    options=(
        _NAMESPACE,
        Option("session", "The session whose working memory (latest turns) leads the context."),
        Option("budget_tokens", "Tokens the rendered context may take at most.", 1_000),
        Option("now", f"Reference time, {_ISO} (default: now)."),
        *_FILTERS,
        _MIN_RELEVANCE,
    ),
    command="context",
    route=("POST", f"{_NS}/context"),
    tool="context",
)

_CALLBACK = (
    "a Python callable run in the caller's process; a remote run answers with its "
    "report when it ends"
)

CONSOLIDATE = Operation(
    name="consolidate",
    options=(
        _NAMESPACE,
        Option("now", f"Record time of what consolidation writes, {_ISO} (default: now)."),
        Option(
            "progress",
            "Report progress after each batch (the CLI shows a bar on stderr when it is a "
            "terminal).",
            flags=("--progress",),
            left_out={"http": _CALLBACK, "mcp": _CALLBACK, "client": _CALLBACK},
        ),
    ),
    command="consolidate",
    route=("POST", f"{_NS}/consolidate"),
    tool="consolidate",
)

FACTS = Operation(
    name="facts",
    options=(
        _NAMESPACE,
        Option("subject", "Only facts about this subject, e.g. Maya."),
        Option("attribute", "Only facts of this attribute, e.g. residence."),
        Option("as_of", f"Only the facts that held at this event time, {_ISO}."),
    ),
    command="facts",
    route=("GET", f"{_NS}/facts"),
    tool="facts",
)

_WHERE, _AFTER, _BEFORE = _FILTERS
DELETE_WHERE = Operation(
    name="delete_where",
    options=(
        _NAMESPACE,
        _WHERE,
        Option(
            "kinds",
            "Only memories of these kinds: episode, fact, summary, or several (default: every "
            "kind).",
        ),
        _AFTER,
        _BEFORE,
        Option(
            "dry_run",
            "Report what would be deleted, derived memories included, and delete nothing.",
            False,
        ),
    ),
    command="delete-where",
    route=("POST", f"{_NS}/delete-where"),
    tool="delete_where",
)

# expiry (docs/expiry.md): erasing what expired, in one namespace or all
PURGE = Operation(
    name="purge",
    options=(
        Option(
            "namespace",
            "The namespace to purge (default: every namespace; on a server, every one the "
            "key may write).",
        ),
    ),
    command="purge",
    route=("POST", f"{_NS}/purge"),
    tool="purge",
)

# learning (docs/learning.md): judging hits, and the weights learned from the judgements
_SEARCH_AGAIN = (
    "a search is remembered by the process that ran it; the command runs one "
    "(engram feedback --query)"
)
FEEDBACK = Operation(
    name="feedback",
    options=(
        _NAMESPACE,
        Option(
            "search_id",
            "The id of the search that returned the hit (each hit's search_id); needed "
            "when the hit is given by its memory's id.",
            left_out={"cli": _SEARCH_AGAIN},
        ),
        Option("now", f"When the judgement was made, {_ISO} (default: now)."),
    ),
    command="feedback",
    route=("POST", f"{_NS}/feedback"),
    tool="feedback",
)

WEIGHTS = Operation(
    name="weights",
    options=(_NAMESPACE,),
    command="weights",
    route=("GET", f"{_NS}/weights"),
    tool="weights",
)

RESET_WEIGHTS = Operation(
    name="reset_weights",
    options=(_NAMESPACE,),
    command="reset-weights",
    route=("DELETE", f"{_NS}/weights"),
    tool="reset_weights",
)

# Learning (docs/learning.md): experiences and concepts.
RECORD_EXPERIENCE = Operation(
    name="record_experience",
    options=(
        _NAMESPACE,
        Option("occurred_at", f"When the action was taken, {_ISO} (default: now)."),
    ),
    command="record-experience",
    route=("POST", f"{_NS}/experiences"),
    tool="record_experience",
)

RECALL_EXPERIENCES = Operation(
    name="recall_experiences",
    options=(
        _NAMESPACE,
        Option("limit", "How many experiences at most.", 5),
        Option("now", f"Reference time for how well each is retained, {_ISO} (default: now)."),
        Option("reinforce", "Count the experiences returned as recalled: they fade slower.", True),
    ),
    command="recall-experiences",
    route=("POST", f"{_NS}/experiences/recall"),
    tool="recall_experiences",
)

TEACH = Operation(
    name="teach",
    options=(_NAMESPACE,),
    command="teach",
    route=("POST", f"{_NS}/concepts"),
    tool="teach",
)

CONCEPTS = Operation(
    name="concepts",
    options=(_NAMESPACE,),
    command="concepts",
    route=("GET", f"{_NS}/concepts"),
    tool="concepts",
)

RETAG = Operation(
    name="retag",
    options=(_NAMESPACE,),
    command="retag",
    route=("POST", f"{_NS}/concepts/retag"),
    tool="retag",
)

#: What a listing may be ordered by (docs/scopes.md, "Listing"): event or ingest time.
LIST_ORDERS: tuple[str, ...] = ("occurred_at", "recorded_at")

LIST = Operation(
    name="list",
    options=(
        _NAMESPACE,
        *_FILTERS,
        Option(
            "kinds",
            "Kinds of memory to list: episode, fact, summary, or several (default: every kind).",
        ),
        Option(
            "order",
            "What orders the memories: occurred_at (event time) or recorded_at (when stored); "
            "ties go by the order they were stored in.",
            "occurred_at",
        ),
        Option("descending", "Latest first.", False),
        Option("limit", "How many memories a page holds at most.", 100),
        Option(
            "cursor",
            "Where the page starts: the next_cursor of the page before, with the same "
            "namespace, filters, kinds and order (default: the first page).",
        ),
    ),
    command="list",
    route=("POST", f"{_NS}/list"),
    tool="list_memories",
)

# The pinned profile (docs/profile.md): the key is positional everywhere (a path segment
# on HTTP), as the text of ``add`` is.
_PROFILE = f"{_NS}/profile"

PIN = Operation(
    name="pin",
    options=(
        _NAMESPACE,
        Option(
            "source_id",
            "The fact this entry was proposed from (profile-proposals); leave it out "
            "for an entry written by hand.",
        ),
    ),
    command="pin",
    route=("PUT", _PROFILE + "/{key}"),
    tool="pin",
)

UNPIN = Operation(
    name="unpin",
    options=(_NAMESPACE,),
    command="unpin",
    route=("DELETE", _PROFILE + "/{key}"),
    tool="unpin",
)

PROFILE = Operation(
    name="profile",
    options=(
        _NAMESPACE,
        Option("as_of", f"The entries that were pinned at this time, {_ISO}."),
        Option("history", "Every version of every entry, oldest first per key.", False),
    ),
    command="profile",
    route=("GET", _PROFILE),
    tool="profile",
)

PROFILE_PROPOSALS = Operation(
    name="profile_proposals",
    options=(_NAMESPACE,),
    command="profile-proposals",
    route=("GET", f"{_NS}/profile-proposals"),
    tool="profile_proposals",
)

OPERATIONS: tuple[Operation, ...] = (
    ADD,
    SEARCH,
    CONTEXT,
    CONSOLIDATE,
    FACTS,
    FEEDBACK,
    WEIGHTS,
    RESET_WEIGHTS,
    RECORD_EXPERIENCE,
    RECALL_EXPERIENCES,
    TEACH,
    CONCEPTS,
    RETAG,
    DELETE_WHERE,
    PURGE,
    LIST,
    PIN,
    UNPIN,
    PROFILE,
    PROFILE_PROPOSALS,
)

_HOST = "the server's host"
#: The public members of ``Memory`` that ``Client`` leaves out, and why: they act on
#: the store's files, its keys or this process's objects, which belong to the machine
#: that holds the store. Every other member of ``Memory`` is on ``Client`` too.
LOCAL_ONLY: Mapping[str, str] = {
    "store": "the Store object of this process; a server's store is its own",
    "embedder": "the embedding model of this process; a server embeds with its own",
    "reindex": f"rebuilds the store's derived indexes: maintenance on {_HOST} (engram reindex)",
    "check": f"reads the store's files: run it on {_HOST} (engram check)",
    "export": f"a dump of the whole store, ids and history included: {_HOST}'s (engram export)",
    "import_record": f"restores exported records with their ids: on {_HOST} (engram import)",
    "import_records": f"restores exported records with their ids: on {_HOST} (engram import)",
    "backup": f"writes a file beside the store: on {_HOST} (engram backup)",
    "restore_backup": f"replaces the store's file: on {_HOST} (engram restore)",
    "encrypted": f"encryption at rest is a property of {_HOST}'s files",
    "encrypt": f"encrypts the store's files in place with a master key: on {_HOST} "
    "(engram keys encrypt-store)",
    "rotate_master_key": f"the master key never leaves {_HOST} (engram keys rotate-master)",
}
