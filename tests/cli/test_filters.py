"""``engram search`` and ``engram context`` with ``--where``, ``--occurred-after`` and
``--occurred-before`` (docs/filters.md, docs/cli.md): the real CLI on a real store."""

from __future__ import annotations

import pytest

from .support import Invoke, assert_one_line_error, ok_json

NOW = "2024-03-01T00:00:00Z"
TURNS = [
    ("Maya", "Maya baked bread with rye flour", "2024-01-01T10:00:00Z", "bread"),
    ("Tom", "Tom baked bread with spelt flour", "2024-01-02T10:00:00Z", "bread"),
    ("Maya", "Maya baked a cake with almond flour", "2024-01-03T10:00:00Z", "cake"),
    ("Tom", "Tom baked a cake with corn flour", "2024-01-04T10:00:00Z", "cake"),
]


@pytest.fixture(scope="module")
def kitchen(shared: Invoke) -> Invoke:
    """The same four turns in namespaces 'kitchen' and 'other'."""
    for namespace in ("kitchen", "other"):
        for speaker, text, when, what in TURNS:
            metadata = f'{{"what": "{what}"}}'
            result = shared("add", text, "-n", namespace, "--speaker", speaker,
                            "--occurred-at", when, "--metadata", metadata)  # fmt: skip
            assert result.exit_code == 0, result.output
    return shared


def _texts(found: dict[str, object], key: str = "hits") -> list[str]:
    return sorted(h["engram"]["text"] for h in found[key])  # type: ignore[attr-defined]


def test_search_keeps_what_passes_where_and_the_time_bounds(kitchen: Invoke) -> None:
    found = ok_json(kitchen("--json", "search", "who baked?", "-n", "kitchen", "--now", NOW,
                            "--no-reinforce", "--where", '{"speaker": "Maya"}'))  # fmt: skip
    assert _texts(found) == [
        "Maya baked a cake with almond flour",
        "Maya baked bread with rye flour",
    ]
    assert {h["engram"]["namespace"] for h in found["hits"]} == {"kitchen"}
    bounded = ok_json(kitchen("--json", "search", "who baked?", "-n", "kitchen", "--now", NOW,
                              "--no-reinforce", "--where", '{"metadata.what": {"$ne": "bread"}}',
                              "--occurred-after", "2024-01-03T10:00:00Z",
                              "--occurred-before", "2024-01-04T10:00:00Z"))  # fmt: skip
    assert _texts(bounded) == ["Maya baked a cake with almond flour"]
    shown = kitchen("search", "who baked?", "-n", "kitchen", "--now", NOW, "--no-reinforce",
                    "--where", '{"speaker": "Nobody"}')  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == "no memories found in 'kitchen'\n"


def test_context_recalls_only_what_passes(kitchen: Invoke) -> None:
    found = ok_json(kitchen("--json", "context", "who baked a cake?", "-n", "kitchen",
                            "--now", NOW, "--where", '{"speaker": "Tom"}',
                            "--occurred-before", "2024-01-03T00:00:00Z"))  # fmt: skip
    assert [i["text"] for i in found["items"] if i["kind"] == "episode"] == [
        "Tom baked bread with spelt flour"
    ]


@pytest.mark.parametrize("command", ["search", "context"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "{speaker: Maya}"], "--where is not valid JSON"),
        (["--where", '["speaker", "Maya"]'], "--where must be a JSON object, got list"),
        (["--where", '{"text": "bread"}'], "where field 'text' is not filterable"),
        (["--where", '{"metadata.what": {"$like": "b"}}'], "unknown operator '$like'"),
        (["--occurred-after", "2024-01-03"], "--occurred-after '2024-01-03' has no timezone"),
        (["--occurred-before", "yesterday"], "--occurred-before 'yesterday' is not an ISO 8601"),
        (["--occurred-after", "2024-02-01T00:00:00Z", "--occurred-before", "2024-01-01T00:00:00Z"],
         "occurred_after must be earlier than occurred_before"),
    ],
)  # fmt: skip
def test_a_bad_filter_exits_2_with_one_line(
    kitchen: Invoke, command: str, args: list[str], message: str
) -> None:
    line = assert_one_line_error(kitchen(command, "who baked?", "-n", "kitchen", *args), 2)
    assert message in line
