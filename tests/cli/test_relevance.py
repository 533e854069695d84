"""``engram search`` and ``engram context`` with ``--min-relevance``, and the relevance
each hit prints (docs/recall.md, "Relevance"; docs/cli.md): the real CLI on a real
store with the real model."""

from __future__ import annotations

import pytest

from .support import Invoke, assert_one_line_error, ok_json

NOW = "2024-05-01T00:00:00Z"


@pytest.fixture(scope="module")
def pets(shared: Invoke) -> Invoke:
    result = shared("add", "I adopted a rescue dog called Pastel.", "-n", "pets",
                    "--speaker", "Maya", "--occurred-at", "2024-03-23T10:00:00Z")  # fmt: skip
    assert result.exit_code == 0, result.output
    return shared


def test_search_prints_each_hit_s_relevance(pets: Invoke) -> None:
    shown = pets("search", "What is Maya's dog called?", "-n", "pets", "--now", NOW,
                 "--no-reinforce")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    first = shown.stdout.splitlines()[0]
    relevance = float(first.split("relevance ")[1].split()[0])
    assert relevance >= 0.5
    (hit,) = ok_json(pets("--json", "search", "What is Maya's dog called?", "-n", "pets",
                          "--now", NOW, "--no-reinforce"))["hits"]  # fmt: skip
    assert hit["relevance"] == pytest.approx(relevance, abs=0.005)


def test_min_relevance_leaves_an_unrelated_question_without_hits(pets: Invoke) -> None:
    asked = ("-n", "pets", "--now", NOW, "--no-reinforce")
    (hit,) = ok_json(pets("--json", "search", "When is the tax deadline?", *asked))["hits"]
    assert hit["relevance"] < 0.5
    found = ok_json(pets("--json", "search", "When is the tax deadline?", *asked,
                         "--min-relevance", "0.5"))  # fmt: skip
    assert found["hits"] == []
    shown = pets("search", "When is the tax deadline?", *asked, "--min-relevance", "0.5")
    assert shown.stdout == "no memories found in 'pets'\n"
    bundle = ok_json(pets("--json", "context", "When is the tax deadline?", "-n", "pets",
                          "--now", NOW, "--min-relevance", "0.5"))  # fmt: skip
    assert [i for i in bundle["items"] if i["kind"] == "episode"] == []


def test_a_floor_outside_zero_to_one_is_a_one_line_error(pets: Invoke) -> None:
    line = assert_one_line_error(pets("search", "dog", "-n", "pets", "--min-relevance", "1.5"), 2)
    assert "min_relevance must be a number from 0.0 to 1.0" in line
