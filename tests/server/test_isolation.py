"""Two keys on two namespaces: neither can read, search, update, delete, erase, fade,
budget or list the facts of the other's memories through any route (a bounded
hypothesis property over the in-process app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import Memory

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
