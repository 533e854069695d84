"""``engramdb.integrations.langgraph.EngramStore`` with the real langgraph package
(docs/integrations/langgraph.md), on each store: LangGraph's store semantics, checked
against its own ``InMemoryStore`` where both answer the same, and a small agent graph
that remembers in one run and recalls in the next."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph", reason="the langgraph extra is not installed")

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    PutOp,
    SearchItem,
)
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

from engramdb import AsyncMemory, FixedClock, InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.integrations.langgraph import EngramStore

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "langgraph.md"

#: Items of several namespaces; every value has ``n`` (LangGraph's own store cannot
#: order a missing field) and ``color`` where it has one.
ITEMS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("users", "a"), "prefs", {"color": "red", "n": 1, "flag": True}),
    (("users", "a"), "pet", {"color": "blue", "n": 2, "text": "a terrier called Pastel"}),
    (("users", "a", "notes"), "n1", {"color": "red", "n": 3, "flag": False}),
    (("users", "b"), "prefs", {"color": "green", "n": 4}),
    (("users", "b"), "cello", {"n": 5, "text": "a second-hand cello"}),
    (("docs",), "readme", {"color": "red", "n": 6, "size": "large"}),
    (("docs", "v1"), "readme", {"color": "blue", "n": 7, "size": "small"}),
    (("docs", "v1", "draft"), "intro", {"n": 8}),
]


@pytest.fixture
def mem(location: str, embedder: Embedder) -> Iterator[Memory]:
    with Memory(location, embedder=embedder) as memory:
        yield memory


@pytest.fixture
def filled(mem: Memory) -> tuple[EngramStore, InMemoryStore]:
    """The same writes on an ``EngramStore`` and on LangGraph's ``InMemoryStore``."""
    ours, theirs = EngramStore(mem), InMemoryStore()
    for store in (ours, theirs):
        for namespace, key, value in ITEMS:
            store.put(namespace, key, value)
        store.put(("users", "a"), "prefs", {"color": "red", "n": 1, "flag": False})  # replaced
        store.delete(("users", "b"), "cello")
        store.delete(("users", "b"), "never-stored")
    return ours, theirs


def _found(items: list[SearchItem]) -> list[tuple[tuple[str, ...], str, str]]:
    return sorted((i.namespace, i.key, json.dumps(i.value, sort_keys=True)) for i in items)


# -- put, get, delete -------------------------------------------------------------------


def test_get_returns_what_put_stored_and_none_after_delete(
    filled: tuple[EngramStore, InMemoryStore],
) -> None:
    ours, theirs = filled
    for namespace, key, _ in [*ITEMS, (("users", "b"), "never-stored", {})]:
        got, expected = ours.get(namespace, key), theirs.get(namespace, key)
        assert (got is None) == (expected is None), (namespace, key)
        if got is not None and expected is not None:
            assert isinstance(got, Item)
            assert (got.namespace, got.key, got.value) == (namespace, key, expected.value)
    replaced = ours.get(("users", "a"), "prefs")
    assert replaced is not None
    assert replaced.value == {"color": "red", "n": 1, "flag": False}
    assert ours.get(("users", "b"), "cello") is None
    assert ours.get(("nowhere",), "prefs") is None


def test_a_put_replaces_the_one_memory_of_its_key(mem: Memory) -> None:
    store = EngramStore(mem)
    store.put(("users", "a"), "prefs", {"theme": "dark"})
    first = store.get(("users", "a"), "prefs")
    store.put(("users", "a"), "prefs", {"theme": "light", "font": "serif"})
    second = store.get(("users", "a"), "prefs")
    assert first is not None
    assert second is not None
    assert second.value == {"theme": "light", "font": "serif"}
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    page = mem.list(namespace="langgraph:users:a")
    assert len(page.engrams) == 1
    stored = {"key": "prefs", "value.theme": "light", "value.font": "serif"}
    assert page.engrams[0].metadata == stored
    store.put(("users", "a"), "prefs", None)  # LangGraph's delete
    assert store.get(("users", "a"), "prefs") is None
    assert mem.list(namespace="langgraph:users:a").engrams == ()


def test_two_stores_on_one_memory_see_each_others_writes(mem: Memory) -> None:
    # each store keeps the memory id of the keys it has seen; another's writes must show
    mine, theirs = EngramStore(mem), EngramStore(mem)
    mine.put(("a",), "k", {"v": 1})
    theirs.put(("a",), "k", {"v": 2})  # the same memory, a new version
    assert mine.get(("a",), "k").value == {"v": 2}  # type: ignore[union-attr]
    theirs.delete(("a",), "k")
    assert mine.get(("a",), "k") is None
    theirs.put(("a",), "k", {"v": 3})  # another memory now holds the key
    mine.put(("a",), "k", {"v": 4})
    assert [i.value for i in theirs.search(("a",))] == [{"v": 4}]
    mine.delete(("a",), "k")
    assert theirs.get(("a",), "k") is None
    assert mem.list(namespace="langgraph:a").engrams == ()


def test_the_same_value_under_two_keys_at_one_instant_is_two_items(
    location: str, embedder: Embedder
) -> None:
    # The same text at the same instant is one experience to the engine
    # (docs/repetition.md); to the store two keys are two items.
    with Memory(location, embedder=embedder, clock=FixedClock(T0)) as mem:
        store = EngramStore(mem)
        store.put(("users",), "one", {"text": "same words"})
        store.put(("users",), "two", {"text": "same words"})
        store.put(("users",), "three", {"text": "same words"})
        keys = sorted(i.key for i in store.search(("users",)))
    assert keys == ["one", "three", "two"]


# -- search -------------------------------------------------------------------------------

FILTERS: list[dict[str, Any]] = [
    {},
    {"color": "red"},
    {"color": {"$eq": "blue"}},
    {"color": {"$ne": "red"}},
    {"n": {"$gt": 2}},
    {"n": {"$gte": 2, "$lt": 7}},
    {"n": {"$lte": 3}, "color": "red"},
    {"flag": False},
    {"size": "small", "color": "blue"},
    {"missing": "x"},
]


@pytest.mark.parametrize("prefix", [(), ("users",), ("users", "a"), ("docs", "v1"), ("none",)])
def test_a_filtered_search_finds_what_langgraphs_store_finds(
    filled: tuple[EngramStore, InMemoryStore], prefix: tuple[str, ...]
) -> None:
    ours, theirs = filled
    for conditions in FILTERS:
        got = ours.search(prefix, filter=conditions, limit=100)
        expected = theirs.search(prefix, filter=conditions, limit=100)
        assert _found(got) == _found(expected), conditions
        assert all(isinstance(i, SearchItem) and i.score is None for i in got)


def test_a_query_ranks_the_items_under_the_prefix_by_meaning(
    filled: tuple[EngramStore, InMemoryStore],
) -> None:
    ours, _ = filled
    ours.put(("users", "b"), "job", {"text": "my new job at the bakery starts on Monday", "n": 9})
    hits = ours.search(("users",), query="what is my dog called?", limit=3)
    assert (hits[0].namespace, hits[0].key) == (("users", "a"), "pet")
    assert all(h.namespace[0] == "users" for h in hits)
    assert all(h.score is not None and 0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)  # type: ignore[misc]
    # a filter keeps to the items that pass, however well the others match
    blue = ours.search(("users",), query="what is my dog called?", filter={"color": "green"})
    assert [(h.namespace, h.key) for h in blue] == [(("users", "b"), "prefs")]
    assert ours.search(("users", "b"), query="what is my dog called?", limit=5)[0].key == "job"


def test_limit_and_offset_page_through_each_item_once(
    filled: tuple[EngramStore, InMemoryStore],
) -> None:
    ours, _ = filled
    everything = ours.search((), limit=100)
    assert len(everything) == len(ITEMS) - 1
    pages = [ours.search((), limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [(i.namespace, i.key) for p in pages for i in p] == [
        (i.namespace, i.key) for i in everything
    ]
    ranked = ours.search((), query="a red colour", limit=6)
    paged = ours.search((), query="a red colour", limit=3) + ours.search(
        (), query="a red colour", limit=3, offset=3
    )
    assert [(i.namespace, i.key) for i in paged] == [(i.namespace, i.key) for i in ranked]
    assert ours.search((), limit=0) == []


# -- namespaces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"prefix": ("users",)},
        {"prefix": ("users", "a")},
        {"suffix": ("v1",)},
        {"suffix": ("*", "draft")},
        {"prefix": ("*", "v1")},
        {"prefix": ("docs",), "suffix": ("draft",)},
        {"max_depth": 1},
        {"max_depth": 2},
        {"prefix": ("users",), "max_depth": 2},
        {"limit": 2},
        {"limit": 2, "offset": 2},
        {"offset": 10},
    ],
)
def test_list_namespaces_answers_as_langgraphs_store(
    filled: tuple[EngramStore, InMemoryStore], options: dict[str, Any]
) -> None:
    ours, theirs = filled
    assert ours.list_namespaces(**options) == theirs.list_namespaces(**options)


def test_labels_map_onto_namespace_names_and_back(mem: Memory) -> None:
    store = EngramStore(mem)
    odd = ("org-1", "user 42: Zoë", "a/b", "x_y@z")
    store.put(odd, "k", {"v": 1})
    assert store.list_namespaces() == [odd]
    assert mem.namespaces() == ["langgraph:org-1:user.2042.3a.20Zo.c3.ab:a.2fb:x_y@z"]
    item = store.get(odd, "k")
    assert item is not None
    assert item.namespace == odd
    assert [i.namespace for i in store.search(("org-1", "user 42: Zoë"))] == [odd]
    assert store.search(("org-1", "user 42")) == []  # a label is matched whole


def test_namespaces_outside_the_root_are_not_the_stores(mem: Memory) -> None:
    mem.add("an episode of the agent's own", namespace="default")
    mem.add("a name another tool made", namespace="langgraph:BAD.zz")
    mem.add("another root", namespace="langgraph-other:users")
    store = EngramStore(mem)
    store.put(("users",), "k", {"v": 1})
    other = EngramStore(mem, root="tenant-1:graph")
    other.put(("users",), "k", {"v": 2})
    assert store.list_namespaces() == [("users",)]
    assert [i.value for i in store.search(())] == [{"v": 1}]
    assert [i.value for i in other.search((), query="v")] == [{"v": 2}]
    assert "tenant-1:graph:users" in mem.namespaces()


@pytest.mark.parametrize(
    "namespace",
    [("a.b",), ("ok", ""), ("nul\x00",), ("x" * 200,)],
)
def test_a_namespace_that_cannot_be_mapped_is_refused(
    mem: Memory, namespace: tuple[str, ...]
) -> None:
    store = EngramStore(mem)
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(namespace, "k", {"v": 1})])
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(namespace, "k")])
    assert mem.namespaces() == []


def test_langgraphs_own_refusals_hold(mem: Memory) -> None:
    store = EngramStore(mem)
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp((), "k", {"v": 1})])
    with pytest.raises(InvalidNamespaceError):
        store.search(("a.b",))
    with pytest.raises(InvalidNamespaceError):
        store.search("users")  # type: ignore[arg-type]
    store.put(["users", "a"], "k", {"v": 1})  # type: ignore[arg-type]
    assert [i.namespace for i in store.search(["users"])] == [("users", "a")]  # type: ignore[arg-type]


# -- index -----------------------------------------------------------------------------


def _text(mem: Memory, name: str) -> str:
    (engram,) = mem.list(namespace=name).engrams
    return engram.text


def test_index_fields_choose_the_text_a_query_finds(mem: Memory) -> None:
    store = EngramStore(mem, index={"dims": 384, "embed": "unused", "fields": ["summary"]})
    store.put(("a",), "k", {"summary": "a terrier called Pastel", "body": "the tax report"})
    store.put(("b",), "k", {"summary": "the tax report", "body": "a terrier called Pastel"})
    store.put(("c",), "k", {"body": "x", "tags": ["dog", "walks"]}, index=["tags[*]", "body"])
    store.put(("d",), "k", {"summary": "not indexed"}, index=False)
    store.put(("e",), "k", {"other": "no indexed field here"})
    assert _text(mem, "langgraph:a") == "a terrier called Pastel"
    assert _text(mem, "langgraph:c") == "dog\nwalks\nx"
    assert _text(mem, "langgraph:d") == "k"  # nothing indexed: the key
    assert _text(mem, "langgraph:e") == "k"
    top = store.search((), query="what is the dog called?", limit=1)
    assert [(i.namespace, i.key) for i in top] == [(("a",), "k")]


def test_the_default_text_is_the_whole_value_as_json(mem: Memory) -> None:
    store = EngramStore(mem)
    store.put(("a",), "k", {"b": 1, "a": "Zoë"})
    assert _text(mem, "langgraph:a") == '{"a": "Zoë", "b": 1}'


# -- batch, async, errors ------------------------------------------------------------------


def test_a_batch_runs_its_operations_in_order(mem: Memory) -> None:
    store = EngramStore(mem)
    results = store.batch(
        [
            PutOp(("users",), "k", {"v": 1}),
            GetOp(("users",), "k"),
            PutOp(("users",), "k", {"v": 2}),
            GetOp(("users",), "k"),
            ListNamespacesOp(),
            PutOp(("users",), "k", None),
            GetOp(("users",), "k"),
        ]
    )
    assert results[0] is None
    assert [r.value for r in results[1:4:2]] == [{"v": 1}, {"v": 2}]  # type: ignore[union-attr]
    assert results[4] == [("users",)]
    assert results[5:] == [None, None]


def test_the_async_calls_reach_the_same_store(mem: Memory) -> None:
    store = EngramStore(mem)

    async def session() -> tuple[Any, ...]:
        await store.aput(("users", "a"), "pet", {"text": "a terrier called Pastel"})
        await store.aput(("users", "a"), "job", {"text": "a job at the bakery"})
        got = await store.aget(("users", "a"), "pet")
        found = await store.asearch(("users",), query="dog", limit=1)
        names = await store.alist_namespaces(prefix=("users",))
        await store.adelete(("users", "a"), "pet")
        gone = await store.aget(("users", "a"), "pet")
        return got, found, names, gone

    got, found, names, gone = asyncio.run(session())
    assert got.value == {"text": "a terrier called Pastel"}
    assert [i.key for i in found] == ["pet"]
    assert names == [("users", "a")]
    assert gone is None


@pytest.mark.parametrize(
    ("conditions", "said"),
    [
        ({"a": {"b": 1}}, "nested object"),
        ({"tags": ["x", "y"]}, "a string, a number or a boolean"),
        ({"a": None}, "a string, a number or a boolean"),
        ({"a": {"$like": "x"}}, "unknown operator"),
        ({"n": {"$gt": True}}, "boolean"),
    ],
)
def test_a_filter_engramdb_cannot_read_is_refused(
    filled: tuple[EngramStore, InMemoryStore], conditions: dict[str, Any], said: str
) -> None:
    ours, _ = filled
    with pytest.raises(InvalidInputError, match=re.escape(said)):
        ours.search(("users",), filter=conditions)


def test_bad_input_is_a_typed_error(mem: Memory, location: str, embedder: Embedder) -> None:
    store = EngramStore(mem)
    with pytest.raises(InvalidInputError, match="limit"):
        store.search((), limit=-1)
    with pytest.raises(InvalidInputError, match="offset"):
        store.list_namespaces(offset=-2)
    with pytest.raises(InvalidInputError, match="mapping"):
        store.put(("a",), "k", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="non-finite"):
        store.put(("a",), "k", {"x": float("nan")})
    with pytest.raises(InvalidInputError, match="index fields"):
        EngramStore(mem, index={"fields": "text"})  # type: ignore[typeddict-item]
    with pytest.raises(InvalidInputError, match="namespace"):
        EngramStore(mem, root="no/slash")
    with pytest.raises(InvalidInputError, match="blocking"):
        EngramStore(AsyncMemory(location, embedder=embedder))  # type: ignore[arg-type]
    assert mem.namespaces() == []


# -- an agent graph that remembers across runs ---------------------------------------------


class Turn(TypedDict, total=False):
    user: str
    said: str
    answer: str


def agent(state: Turn, runtime: Runtime) -> dict[str, str]:
    """A deterministic agent: a question is answered from memory, anything else noted."""
    store = runtime.store
    assert store is not None
    where = ("memories", state["user"])
    said = state["said"]
    if said.endswith("?"):
        found = store.search(where, query=said, limit=1)
        return {"answer": found[0].value["text"] if found else "I don't know."}
    store.put(where, f"note-{len(store.search(where, limit=100))}", {"text": said})
    return {"answer": "Noted."}


def build(store: BaseStore) -> Any:
    graph = StateGraph(Turn)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    graph.add_edge("agent", END)
    return graph.compile(store=store)


def test_an_agent_graph_remembers_across_two_runs(location: str, embedder: Embedder) -> None:
    with Memory(location, embedder=embedder) as mem:
        graph = build(EngramStore(mem))
        for said in ("My dog is called Pastel.", "I moved to Lisbon in February."):
            assert graph.invoke({"user": "maya", "said": said})["answer"] == "Noted."
    with Memory(location, embedder=embedder) as mem:  # a new process would open it so
        graph = build(EngramStore(mem))
        asked = graph.invoke({"user": "maya", "said": "What is my dog called?"})
        other = graph.invoke({"user": "jonah", "said": "What is my dog called?"})
        moved = asyncio.run(graph.ainvoke({"user": "maya", "said": "Where do I live now?"}))
    assert asked["answer"] == "My dog is called Pastel."
    assert other["answer"] == "I don't know."
    assert moved["answer"] == "I moved to Lisbon in February."


def test_the_docs_python_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DOCS.read_text(encoding="utf-8")
    first = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert first, "docs/integrations/langgraph.md has no Python block"
    monkeypatch.chdir(tmp_path)
    exec(compile(first.group(1), str(DOCS), "exec"), {})
    assert "Pastel" in capsys.readouterr().out


def test_an_item_stamps_are_the_memorys_times(location: str, embedder: Embedder) -> None:
    clock = FixedClock(T0)
    with Memory(location, embedder=embedder, clock=clock) as mem:
        store = EngramStore(mem)
        store.put(("a",), "k", {"v": 1})
        clock.advance(timedelta(hours=1))
        store.put(("a",), "k", {"v": 2})
        item = store.get(("a",), "k")
    assert item is not None
    assert (item.created_at, item.updated_at) == (T0, T0 + timedelta(hours=1))


def test_the_store_works_the_same_over_a_client(embedder: Embedder) -> None:
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    from fastapi.testclient import TestClient

    from engramdb import Client, Settings
    from engramdb.security.keys import KeyRing
    from engramdb.server.http import ServerOptions, create_app
    from in_process import InProcess

    with Memory(":memory:", embedder=embedder) as memory, KeyRing(":memory:") as ring:
        token = ring.create(name="graph", namespaces=["langgraph:*"], access="write").token
        options = ServerOptions(mcp=False, rate_per_s=0.0)
        app = create_app(Settings(path=":memory:"), memory=memory, keys=ring, options=options)
        with (
            TestClient(app) as http,
            Client("http://testserver", api_key=token, transport=InProcess(http)) as remote,
        ):
            ours, theirs = EngramStore(remote), InMemoryStore()
            for store in (ours, theirs):
                for namespace, key, value in ITEMS:
                    store.put(namespace, key, value)
                store.delete(("users", "b"), "cello")
            for conditions in FILTERS:
                got, expected = (
                    ours.search(("users",), filter=conditions),
                    theirs.search(("users",), filter=conditions),
                )
                assert _found(got) == _found(expected), conditions
            assert ours.list_namespaces(max_depth=2) == theirs.list_namespaces(max_depth=2)
            item = ours.get(("users", "a"), "pet")
            hits = ours.search((), query="what is the dog called?", limit=1)
        assert memory.namespaces() == sorted(
            "langgraph:" + ":".join(n) for n in {n for n, _, _ in ITEMS}
        )
    assert item is not None
    assert item.value == ITEMS[1][2]
    assert [(h.namespace, h.key) for h in hits] == [(("users", "a"), "pet")]


# -- TTL (docs/expiry.md) -----------------------------------------------------------------


@pytest.fixture
def clocked(location: str, embedder: Embedder) -> Iterator[tuple[Memory, FixedClock]]:
    clock = FixedClock(T0)
    with Memory(location, embedder=embedder, clock=clock) as memory:
        yield memory, clock


def _expiry(mem: Memory, name: str) -> datetime | None:
    (engram,) = mem.list(namespace=name).engrams
    return engram.expires_at


def test_an_item_with_a_ttl_is_gone_when_it_expires(clocked: tuple[Memory, FixedClock]) -> None:
    mem, clock = clocked
    store = EngramStore(mem, clock=clock)
    assert store.supports_ttl
    store.put(("a",), "brief", {"text": "the code is 4711"}, ttl=10)
    store.put(("a",), "kept", {"text": "the dog is called Pastel"})
    assert store.get(("a",), "brief", refresh_ttl=False) is not None
    held = mem.list(namespace="langgraph:a", where={"metadata.key": "brief"}).engrams[0]
    assert held.expires_at == T0 + timedelta(minutes=10)
    clock.advance(timedelta(minutes=10))
    assert store.get(("a",), "brief") is None
    assert [i.key for i in store.search(("a",))] == ["kept"]
    assert [i.key for i in store.search(("a",), query="what is the code?")] == ["kept"]
    assert store.sweep_ttl() == 1
    assert store.sweep_ttl() == 0
    assert [e.metadata["key"] for e in mem.list(namespace="langgraph:a").engrams] == ["kept"]


def test_a_read_renews_the_ttl_unless_told_not_to(clocked: tuple[Memory, FixedClock]) -> None:
    mem, clock = clocked
    store = EngramStore(mem, clock=clock)
    store.put(("a",), "k", {"text": "renewed by reading"}, ttl=10)
    clock.advance(timedelta(minutes=8))
    assert store.get(("a",), "k") is not None  # renewed: T0 + 18 min
    assert _expiry(mem, "langgraph:a") == T0 + timedelta(minutes=18)
    clock.advance(timedelta(minutes=8))
    assert [i.key for i in store.search(("a",), query="reading")] == ["k"]  # T0 + 26 min
    clock.advance(timedelta(minutes=8))
    assert [i.key for i in store.search(("a",), refresh_ttl=False)] == ["k"]
    assert store.get(("a",), "k", refresh_ttl=False) is not None
    assert _expiry(mem, "langgraph:a") == T0 + timedelta(minutes=26)
    clock.advance(timedelta(minutes=2))
    assert store.get(("a",), "k") is None


def test_the_ttl_config_gives_the_default_and_the_reads_rule(
    clocked: tuple[Memory, FixedClock],
) -> None:
    mem, clock = clocked
    store = EngramStore(mem, clock=clock, ttl={"default_ttl": 5, "refresh_on_read": False})
    store.put(("a",), "k", {"v": 1})  # the default
    store.put(("b",), "k", {"v": 1}, ttl=None)  # never
    assert _expiry(mem, "langgraph:a") == T0 + timedelta(minutes=5)
    assert _expiry(mem, "langgraph:b") is None
    clock.advance(timedelta(minutes=4))
    assert store.get(("a",), "k") is not None  # not renewed: refresh_on_read is off
    assert _expiry(mem, "langgraph:a") == T0 + timedelta(minutes=5)
    store.put(("a",), "k", {"v": 2}, ttl=None)  # a put sets the item's expiry anew
    assert _expiry(mem, "langgraph:a") is None
    store.put(("b",), "k", {"v": 2}, ttl=1)
    assert _expiry(mem, "langgraph:b") == T0 + timedelta(minutes=5)


def test_the_sweeper_starts_and_stops(clocked: tuple[Memory, FixedClock]) -> None:
    mem, clock = clocked
    store = EngramStore(mem, clock=clock, ttl={"sweep_interval_minutes": 60})
    store.start_ttl_sweeper()
    store.start_ttl_sweeper()  # one is running: kept
    assert store.stop_ttl_sweeper(timeout=30)
    with pytest.raises(InvalidInputError, match="sweep_interval_minutes"):
        EngramStore(mem).start_ttl_sweeper()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"default_ttl": -1}, "positive"),
        ({"default_ttl": "soon"}, "number of minutes"),
        ({"refresh_on_read": "yes"}, "true or false"),
        ({"sweep_interval_minutes": 0}, "positive"),
        ({"default_ttl": 1e20}, "100 years"),
        ({"expire": 5}, "unknown options"),
    ],
)
def test_a_bad_ttl_is_a_typed_error(mem: Memory, options: dict[str, Any], said: str) -> None:
    with pytest.raises(InvalidInputError, match=said):
        EngramStore(mem, ttl=options)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="positive"):
        EngramStore(mem).put(("a",), "k", {"v": 1}, ttl=0)
    assert mem.namespaces() == []
