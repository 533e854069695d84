"""``engram keys create|list|revoke``: tokens shown once, scopes, revocation, exit codes."""

from __future__ import annotations

import json

from .support import Invoke, assert_one_line_error, ok_json


def test_create_list_revoke(invoke: Invoke) -> None:
    made = ok_json(invoke("--json", "keys", "create", "--name", "app", "-n", "user-42",
                          "-n", "team-*", "--access", "write"))  # fmt: skip
    assert made["token"].startswith(f"eng_{made['id']}_")
    assert made["namespaces"] == ["user-42", "team-*"]
    listed = ok_json(invoke("--json", "keys", "list"))["keys"]
    assert listed == [{k: v for k, v in made.items() if k != "token"}]
    assert made["token"] not in invoke("keys", "list").stdout
    revoked = ok_json(invoke("--json", "keys", "revoke", made["id"]))
    assert revoked["revoked_at"] is not None
    assert "revoked" in invoke("keys", "list").stdout


def test_create_prints_the_token_alone_on_stdout(invoke: Invoke) -> None:
    result = invoke("keys", "create", "--name", "admin", "--access", "admin")
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("eng_")
    assert len(result.stdout.strip().splitlines()) == 1
    assert "not shown again" in result.stderr


def test_an_unknown_key_is_exit_3(invoke: Invoke) -> None:
    assert_one_line_error(invoke("keys", "revoke", "000000000000"), 3)


def test_bad_scopes_are_usage_errors(invoke: Invoke) -> None:
    assert_one_line_error(invoke("keys", "create", "--name", "x", "--access", "root"), 2)
    assert_one_line_error(invoke("keys", "create", "--name", "x", "--access", "write"), 2)
    assert_one_line_error(invoke("keys", "create", "--name", "x", "-n", "a b"), 2)
    assert json.loads(invoke("--json", "keys", "list").stdout) == {"keys": []}
