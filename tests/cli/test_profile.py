"""``engram pin | unpin | profile | profile-proposals``: the pinned profile on the command
line (docs/profile.md), with one line and an exit code on bad input."""

from __future__ import annotations

import shlex

from .support import Invoke, assert_one_line_error, ok_json


def test_pin_profile_and_unpin(invoke: Invoke) -> None:
    first = ok_json(invoke("--json", "pin", "diet", "vegetarian", "-n", "u"))
    assert (first["namespace"], first["key"], first["version"]) == ("u", "diet", 1)
    shown = invoke("pin", "diet", "vegan, no honey", "-n", "u")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("pinned diet  v2  ")
    listed = invoke("profile", "-n", "u")
    (line,) = listed.stdout.splitlines()
    assert line.startswith("diet  v2  ")
    assert line.endswith(" .. now  vegan, no honey")
    every = ok_json(invoke("--json", "profile", "-n", "u", "--history"))
    assert [e["text"] for e in every["entries"]] == ["vegetarian", "vegan, no honey"]
    then = ok_json(invoke("--json", "profile", "-n", "u", "--as-of", first["valid_from"]))
    assert [e["text"] for e in then["entries"]] == ["vegetarian"]
    context = invoke("context", "what do I cook?", "-n", "u")
    assert context.stdout.splitlines()[0] == "[profile] diet: vegan, no honey"
    assert invoke("unpin", "diet", "-n", "u").stdout.startswith("unpinned diet  v2")
    assert "nothing pinned in 'u'" in invoke("profile", "-n", "u").stdout
    audit = ok_json(invoke("--json", "audit", "-n", "u"))
    assert [e["action"] for e in audit["entries"]] == ["pin", "pin", "unpin"]


def test_bad_input_is_one_line_and_an_exit_code(invoke: Invoke) -> None:
    assert "key 'a b' must be letters" in assert_one_line_error(invoke("pin", "a b", "x"), 2)
    assert "limit is 500" in assert_one_line_error(invoke("pin", "k", "x" * 501), 2)
    assert "no profile entry 'k'" in assert_one_line_error(invoke("unpin", "k"), 3)
    assert "--as-of" in assert_one_line_error(invoke("profile", "--as-of", "yesterday"), 2)
    assert "as_of and history" in assert_one_line_error(
        invoke("profile", "--as-of", "2024-01-01T00:00:00Z", "--history"), 2
    )


def test_proposals_print_the_command_that_accepts_them(invoke: Invoke) -> None:
    for i, text in enumerate(["I live in Boston.", "Boston is home; I live in Boston."]):
        added = invoke("add", text, "-n", "u", "--speaker", "Maya", "--session", "s",
                       "--occurred-at", f"2024-01-0{i + 1}T00:00:00Z")  # fmt: skip
        assert added.exit_code == 0, added.output
    assert invoke("consolidate", "-n", "u", "--no-progress").exit_code == 0
    (proposal,) = ok_json(invoke("--json", "profile-proposals", "-n", "u"))["proposals"]
    assert proposal["key"] == "maya.residence"
    printed = invoke("profile-proposals", "-n", "u").stdout.splitlines()
    assert printed[0] == "maya.residence: Maya lives in Boston"
    accept = shlex.split(printed[1].strip())
    assert accept[:2] == ["engram", "pin"]
    assert ok_json(invoke("--json", *accept[1:], "-n", "u"))["source_id"] == proposal["fact_id"]
    assert "no proposals" in invoke("profile-proposals", "-n", "u").stdout
