"""Export and import carry consolidation: facts, provenance and consumed marks survive."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engramdb import InvalidInputError, Memory

from .conftest import NOW, day, hash_memory


def _roundtrip(mem: Memory) -> tuple[Memory, list[dict[str, Any]]]:
    records = json.loads(json.dumps(list(mem.export(namespace="u"))))  # through JSON
    copy = hash_memory(consolidation_batch=4)
    assert copy.import_records(records) == len(records)
    return copy, records


def test_facts_links_and_marks_survive_export_and_import(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    facts = mem.facts(namespace="u")
    assert {f.status for f in facts} >= {"current", "superseded"}
    copy, records = _roundtrip(mem)
    with copy:
        assert copy.facts(namespace="u") == facts
        assert copy.store.links("u") == mem.store.links("u")
        assert copy.store.consumed("u") == mem.store.consumed("u")
        assert list(copy.export(namespace="u")) == records
        # nothing is consolidated twice, and the store goes on from where it was
        assert copy.consolidate(namespace="u", now=NOW).episodes == 0
        copy.add("I moved to Austin last week.", namespace="u", speaker="Maya",
                 session="s5", occurred_at=day(300))  # fmt: skip
        report = copy.consolidate(namespace="u", now=NOW)
        assert report.episodes == 1
        assert report.superseded >= 1
        lives = [f for f in copy.facts(namespace="u", subject="Maya") if f.status == "current"]
        assert any("Austin" in f.value for f in lives)


def test_an_unconsolidated_store_exports_no_consolidation_fields(mem: Memory) -> None:
    records = list(mem.export(namespace="u"))
    assert not any({"fact", "sources", "consolidated"} & r.keys() for r in records)


def test_sources_must_name_imported_or_stored_memories(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    records = list(mem.export(namespace="u"))
    derived = [r for r in records if r.get("sources")]
    assert derived
    with hash_memory() as copy:
        with pytest.raises(InvalidInputError, match="neither imported nor stored"):
            copy.import_records(derived)  # their episodes are left out
        assert copy.namespaces() == []  # refused before anything was written


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "maybe", "status"),
        ("subject", "", "subject"),
        ("valid_from", "yesterday", "valid_from"),
        ("superseded_by", "not-an-id", "memory id"),
    ],
)
def test_a_malformed_fact_is_refused(mem: Memory, field: str, value: str, message: str) -> None:
    mem.consolidate(namespace="u", now=NOW)
    records = list(mem.export(namespace="u"))
    fact = next(r for r in records if "fact" in r)
    fact["fact"][field] = value
    with hash_memory() as copy, pytest.raises(InvalidInputError, match=message):
        copy.import_records(records)
