"""``embed`` over HTTP (docs/write-path.md): a batch whose vectors follow, an add that
asks for later, and what is refused."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from engramdb import Memory

from .conftest import AppKeys, bearer

App = Callable[..., tuple[TestClient, Memory, AppKeys]]
ALICE = "/v1/namespaces/alice"


def test_a_batch_with_embed_later_is_found_by_its_words_before_its_vectors(make_app: App) -> None:
    client, memory, keys = make_app()
    memory._catchup.close()  # nothing embeds until the flush below: the pending state holds
    items = [{"text": "the lighthouse keeper waved"}, {"text": "a red kite over the hill"}]
    added = client.post(
        f"{ALICE}/engrams/batch",
        json={"items": items, "embed": "later"},
        headers=bearer(keys.alice),
    )
    assert added.status_code == 201, added.text
    stats = client.get(f"{ALICE}/stats", headers=bearer(keys.alice)).json()
    assert stats["pending_vectors"] == 2
    found = client.post(f"{ALICE}/search", json={"query": "lighthouse"}, headers=bearer(keys.alice))
    assert found.status_code == 200, found.text
    top = found.json()["hits"][0]
    assert top["engram"]["text"] == "the lighthouse keeper waved"
    assert top["explain"]["without_vector"] is True


def test_embed_is_the_batchs_and_takes_now_or_later(make_app: App) -> None:
    client, memory, keys = make_app()
    one = client.post(
        f"{ALICE}/engrams/batch",
        json={"items": [{"text": "a", "embed": "later"}]},
        headers=bearer(keys.alice),
    )
    assert one.status_code == 422, one.text  # the batch's schema has no embed in an item
    assert "items.0.embed" in one.text
    bad = client.post(
        f"{ALICE}/engrams", json={"text": "b", "embed": "soon"}, headers=bearer(keys.alice)
    )
    assert bad.status_code == 422, bad.text
    assert "embed must be one of now, later" in bad.text
    assert memory.stats(namespace="alice").engrams == 0
    fine = client.post(
        f"{ALICE}/engrams", json={"text": "c", "embed": "later"}, headers=bearer(keys.alice)
    )
    assert fine.status_code == 201, fine.text
