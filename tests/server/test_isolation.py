"""Two keys on two namespaces: neither can read, search, update, delete, erase, fade,
budget or list the facts of the other's memories through any route; and keys of random
scopes (names and prefixes) searching several namespaces or listing one never see a
memory outside their scope (bounded hypothesis properties over the in-process app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import Memory, Settings
from engramdb.embed import Embedder
from engramdb.security.keys import KeyRing
from engramdb.server.http import ServerOptions, create_app

from .conftest import AppKeys, bearer

ROUTES = [
    "get",
    "history",
    "update",
    "delete",
    "search",
    "stats",
    "forget",
    "add",
    "batch",
    "budget",
    "set_budget",
    "fade",
    "facts",
    "neighbours",
    "retention",
    "curve",
]
# Routes that act on a whole namespace: on the attacker's own one they succeed.
NAMESPACE_ROUTES = (
    "search", "stats", "add", "batch", "forget", "budget", "set_budget", "fade", "facts",
)  # fmt: skip
# The victim's namespace, spelled as an attacker might try it.
DISGUISES = ["{ns}", "{ns}.", "{ns} ", "{ns}%20", "{ns}*", "%2E%2E/{ns}", "{NS}", "{ns}/x"]


def _request(client: TestClient, token: str, route: str, ns: str, engram_id: str) -> Any:
    base = f"/v1/namespaces/{ns}"
    headers = bearer(token)
    if route == "get":
        return client.get(f"{base}/engrams/{engram_id}", headers=headers)
    if route == "history":
        return client.get(f"{base}/engrams/{engram_id}/history", headers=headers)
    if route == "update":
        return client.patch(f"{base}/engrams/{engram_id}", json={"text": "pwned"}, headers=headers)
    if route == "delete":
        return client.delete(f"{base}/engrams/{engram_id}", headers=headers)
    if route == "search":
        return client.post(f"{base}/search", json={"query": "secret plans"}, headers=headers)
    if route == "stats":
        return client.get(f"{base}/stats", headers=headers)
    if route == "forget":
        return client.delete(base, headers=headers)
    if route == "add":
        return client.post(f"{base}/engrams", json={"text": "planted"}, headers=headers)
    if route == "budget":
        return client.get(f"{base}/budget", headers=headers)
    if route == "set_budget":
        return client.put(f"{base}/budget", json={"max_memories": 0}, headers=headers)
    if route == "fade":
        return client.post(f"{base}/fade", json={"now": "2999-01-01T00:00:00Z"}, headers=headers)
    if route == "facts":
        return client.get(f"{base}/facts", headers=headers)
    if route in ("neighbours", "retention", "curve"):
        return client.get(f"{base}/engrams/{engram_id}/{route}", headers=headers)
    return client.post(f"{base}/engrams/batch", json={"items": [{"text": "p"}]}, headers=headers)


def _snapshot(client: TestClient, admin: str, ns: str, ids: list[str]) -> Any:
    return [
        client.get(f"/v1/namespaces/{ns}/engrams/{i}/history", headers=bearer(admin)).json()
        for i in ids
    ] + [
        client.get(f"/v1/namespaces/{ns}/stats", headers=bearer(admin)).json(),
        client.get(f"/v1/namespaces/{ns}/budget", headers=bearer(admin)).json(),
    ]


def test_neither_key_can_touch_the_other_namespace(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, keys = make_app()
    owned: dict[str, list[str]] = {}
    for ns, token in (("alice", keys.alice), ("bob", keys.bob)):
        items = [{"text": f"{ns}'s secret plans number {i}"} for i in range(3)]
        found = client.post(
            f"/v1/namespaces/{ns}/engrams/batch", json={"items": items}, headers=bearer(token)
        ).json()
        owned[ns] = [e["id"] for e in found["engrams"]]
    tokens = {"alice": keys.alice, "bob": keys.bob}
    before = {ns: _snapshot(client, keys.admin, ns, ids) for ns, ids in owned.items()}

    step = st.tuples(
        st.sampled_from(["alice", "bob"]),  # the attacker
        st.sampled_from(ROUTES),
        st.sampled_from([*DISGUISES, "own"]),  # where: the victim's namespace, or the attacker's
        st.integers(0, 2),  # which of the victim's ids
    )

    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(step, min_size=1, max_size=6))
    def attack(steps: list[tuple[str, str, str, int]]) -> None:
        for attacker, route, where, index in steps:
            victim = "bob" if attacker == "alice" else "alice"
            target_id = owned[victim][index]
            # "own": the victim's id, asked for in the attacker's own namespace
            ns = attacker if where == "own" else where.format(ns=victim, NS=victim.upper())
            response = _request(client, tokens[attacker], route, ns, target_id)
            assert response.status_code < 500, response.text
            assert f"{victim}'s secret" not in response.text
            if where != "own":
                assert response.status_code in (403, 404, 405, 422), (ns, route, response.text)
            else:
                assert route in NAMESPACE_ROUTES or (response.status_code == 404), (
                    route,
                    response.text,
                )
                assert f"{victim}'s secret" not in response.text
                if route == "forget":  # the attacker erased its own namespace: refill it
                    items = [{"text": f"{attacker}'s secret plans number {i}"} for i in range(3)]
                    refilled = client.post(
                        f"/v1/namespaces/{attacker}/engrams/batch",
                        json={"items": items},
                        headers=bearer(tokens[attacker]),
                    ).json()
                    owned[attacker] = [e["id"] for e in refilled["engrams"]]
                # what the attacker did to its own namespace is its own business
                before[attacker] = _snapshot(client, keys.admin, attacker, owned[attacker])
            assert _snapshot(client, keys.admin, victim, owned[victim]) == before[victim]

    attack()


# -- scopes (docs/scopes.md): searches of several namespaces and listings -------------------

SCOPED = ("org-1:u1", "org-1:u2", "org-1:team", "org-10:u1", "org-2:u1", "solo")
PATTERNS = (*SCOPED, "org-1:*", "org-1:u*", "org-*", "org-10:*", "s*", "x*", "*")
PREFIXES = ("org-", "org-1", "org-1:", "org-1:u", "org-10:", "s", "o", "x")


def _covers(patterns: tuple[str, ...], namespace: str) -> bool:
    return any(
        namespace.startswith(p[:-1]) if p.endswith("*") else namespace == p for p in patterns
    )


def test_searches_of_several_namespaces_and_listings_stay_inside_the_key_scope(
    embedder: Embedder,
) -> None:
    with Memory(":memory:", embedder=embedder) as memory, KeyRing(":memory:") as ring:
        for namespace in SCOPED:
            memory.add_many(
                [{"text": f"the secret plans of {namespace} number {i}"} for i in range(3)],
                namespace=namespace,
            )
        app = create_app(
            Settings(path=":memory:"),
            memory=memory,
            keys=ring,
            options=ServerOptions(mcp=False, rate_per_s=0.0),
        )
        client = TestClient(app, raise_server_exceptions=False)
        minted: dict[tuple[str, ...], str] = {}

        def token(patterns: tuple[str, ...]) -> str:
            if patterns not in minted:
                minted[patterns] = ring.create(
                    name="scoped", namespaces=list(patterns), access="read"
                ).token
            return minted[patterns]

        named = st.lists(st.sampled_from([*SCOPED, "org-1:none"]), min_size=1, max_size=4)
        request = st.one_of(
            st.tuples(st.just("named"), named),
            st.tuples(st.just("prefix"), st.sampled_from(PREFIXES)),
            st.tuples(st.just("list"), st.sampled_from(SCOPED)),
        )

        @settings(
            max_examples=40,
            derandomize=True,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3, unique=True),
            st.lists(request, min_size=1, max_size=3),
        )
        def probe(patterns: list[str], requests: list[tuple[str, Any]]) -> None:
            scope = tuple(sorted(patterns))
            headers = bearer(token(scope))
            for kind, what in requests:
                if kind == "list":
                    answer = client.post(f"/v1/namespaces/{what}/list", json={}, headers=headers)
                    seen = {e["namespace"] for e in answer.json().get("engrams", [])}
                    refused = not _covers(scope, what)
                    allowed = {what}
                else:
                    body = {"query": "secret plans", "limit": 50, "reinforce": False}
                    body |= {"namespaces": what} if kind == "named" else {"namespace_prefix": what}
                    answer = client.post("/v1/search", json=body, headers=headers)
                    seen = {h["engram"]["namespace"] for h in answer.json().get("hits", [])}
                    # a named namespace outside the scope is refused, even one that is empty
                    refused = kind == "named" and not all(_covers(scope, n) for n in what)
                    asked = set(what) if kind == "named" else {
                        n for n in SCOPED if n.startswith(what)
                    }  # fmt: skip
                    allowed = {n for n in asked & set(SCOPED) if _covers(scope, n)}
                if refused:
                    assert answer.status_code == 403, (scope, kind, what, answer.text)
                    assert "secret plans" not in answer.text
                    continue
                assert answer.status_code == 200, (scope, kind, what, answer.text)
                assert seen == allowed, (scope, kind, what, seen)
                assert all(_covers(scope, n) for n in seen)
                for namespace in set(SCOPED) - allowed:
                    assert f"plans of {namespace} " not in answer.text

        probe()
        client.close()
