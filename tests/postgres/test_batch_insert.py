"""A batch written in one statement a table (store.postgres.rows.insert): each
column travels as one array, so the values of a column must be of one type."""

from __future__ import annotations

from dataclasses import replace

from engramdb.store.postgres import PostgresStore
from engramdb.testing.conformance import make_record


def test_a_batch_mixing_whole_and_fractional_numbers_is_written(store: PostgresStore) -> None:
    whole = replace(make_record("ns", "a whole importance"), importance=1, stability_days=3)
    fractional = replace(
        make_record("ns", "a fractional importance"), importance=0.25, stability_days=2.5
    )
    store.insert([whole, fractional])
    got = store.get_many("ns", [whole.id, fractional.id])
    assert (got[whole.id].importance, got[whole.id].stability_days) == (1.0, 3.0)
    assert (got[fractional.id].importance, got[fractional.id].stability_days) == (0.25, 2.5)


def test_a_session_numbers_on_across_batches(store: PostgresStore) -> None:
    store.insert([make_record("ns", f"first {i}", session="s") for i in range(3)])
    later = [make_record("ns", f"later {i}", session="s") for i in range(2)]
    later.append(make_record("ns", "no session"))
    store.insert(later)
    before = store.neighbours("ns", later[0].id, 3, 0)
    assert [e.text for e in before] == ["first 0", "first 1", "first 2"]
    assert [e.text for e in store.neighbours("ns", later[0].id, 0, 1)] == ["later 1"]
