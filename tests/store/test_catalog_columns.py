"""A SqliteStore builds its catalogs a column at a time (docs/recall.md, "What a search
reads"): times parsed all at once are those parsed one by one, and the dynamics of each
row are what ``Dynamics.of`` makes of its state."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engramdb.clock import from_iso, to_iso
from engramdb.config import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.store.base import Dynamics, DynamicState, DynamicsUpdate
from engramdb.store.codec import seconds
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import make_record

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
times = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 (bounds are naive; a day inside the range)
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]),
)


@given(st.lists(times, max_size=40))
def test_stored_times_read_at_once_are_those_read_one_by_one(values: list[datetime]) -> None:
    stamps = [to_iso(v) for v in values]
    expected = [from_iso(s).timestamp() for s in stamps]
    assert seconds(stamps).tolist() == expected  # exactly: far from 1970 too


def test_times_in_another_iso_form_are_read_one_by_one() -> None:
    stamps = [to_iso(T0), "2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00.5Z"]
    assert seconds(stamps).tolist() == [from_iso(s).timestamp() for s in stamps]
    assert seconds([]).tolist() == []


@pytest.mark.parametrize("encrypted", [False, True])
def test_each_row_has_the_dynamics_its_state_gives(encrypted: bool) -> None:
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    with closing(SqliteStore(":memory:", encryption=key)) as store:
        plain, recalled, bare = (
            make_record("ns", text, occurred_at=T0 + timedelta(hours=i))
            for i, text in enumerate(("plain", "recalled", "bare"))
        )
        store.insert([plain, recalled, bare])
        later = T0 + timedelta(days=3, microseconds=7)
        store.set_dynamics("ns", [DynamicsUpdate(recalled.id, 30.5, 0.9, later, 4, dormant=True)])
        store._conn.execute(  # as a memory written before dynamics were kept
            "DELETE FROM dynamics WHERE engram_rowid = (SELECT rowid FROM engrams WHERE id = ?)",
            (bare.id,),
        )
        states = [
            DynamicState(importance=plain.importance, stability_days=plain.stability_days),
            DynamicState(30.5, 0.9, recalls=4, last_recalled_at=later, dormant=True),
            DynamicState(),
        ]
        texts = ["plain", "recalled", "bare"]
        at = [r.occurred_at.timestamp() for r in (plain, recalled, bare)]
        expected = Dynamics.of(states, at, texts)
        ids = [plain.id, recalled.id, bare.id]
        for catalog in (store.catalog_of("ns", ids), store.catalog("ns")):
            assert catalog.ids == tuple(ids)
            got = catalog.dynamics
            assert got is not None
            for name in ("stability_days", "importance", "valence", "arousal", "last_used_at"):
                assert np.array_equal(getattr(got, name), getattr(expected, name)), name
            for name in ("recalls", "dormant", "sizes"):
                assert np.array_equal(getattr(got, name), getattr(expected, name)), name
            assert got.emotions == expected.emotions
            assert catalog.occurred_at.tolist() == at
