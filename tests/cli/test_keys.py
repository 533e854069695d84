"""``engram keys``: API key tokens shown once, scopes, revocation, exit codes; master keys."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key

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


# -- the master key of an encrypted store (docs/security.md) ------------------------------


def test_new_master_prints_a_key_or_writes_an_owner_only_file(
    invoke: Invoke, tmp_path: Path
) -> None:
    printed = invoke("keys", "new-master")
    assert printed.exit_code == 0
    assert len(base64.b64decode(printed.stdout.strip())) == 32
    target = tmp_path / "master.key"
    written = ok_json(invoke("--json", "keys", "new-master", "--out", str(target)))
    assert written == {"key_file": str(target)}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(base64.b64decode(target.read_text().strip())) == 32
    assert_one_line_error(invoke("keys", "new-master", "--out", str(target)), 2)


def test_an_encrypted_store_from_the_command_line(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old.key"
    assert invoke("keys", "new-master", "--out", str(old)).exit_code == 0
    monkeypatch.setenv("ENGRAMDB_MASTER_KEY_FILE", str(old))
    assert invoke("add", "Maya keeps a Quokkaberry plant", "-n", "u").exit_code == 0
    assert "Quokkaberry" in invoke("search", "plant", "-n", "u").stdout
    assert where_found(store_files(tmp_path / "store"), ["Quokkaberry"]) == []

    new = tmp_path / "new.key"
    rotated = ok_json(
        invoke("--json", "keys", "rotate-master", "--generate", "--new-key-file", str(new))
    )
    assert rotated == {"rotated": 1, "new_key": "file"}
    entries = ok_json(invoke("--json", "audit"))["entries"]
    assert [(e["action"], e["count"]) for e in entries][-1] == ("rotate_master_key", 1)
    assert "wrong master key" in assert_one_line_error(invoke("search", "plant", "-n", "u"), 6)
    monkeypatch.setenv("ENGRAMDB_MASTER_KEY_FILE", str(new))
    assert "Quokkaberry" in invoke("search", "plant", "-n", "u").stdout
    assert invoke("check").exit_code == 0

    monkeypatch.delenv("ENGRAMDB_MASTER_KEY_FILE")
    assert "is encrypted" in assert_one_line_error(invoke("search", "plant", "-n", "u"), 6)


def test_rotate_master_needs_a_new_key_and_an_encrypted_store(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("add", "plain", "-n", "u").exit_code == 0
    monkeypatch.setenv("ENGRAMDB_NEW_MASTER_KEY", generate_key())
    assert "not encrypted" in assert_one_line_error(invoke("keys", "rotate-master"), 4)
    monkeypatch.delenv("ENGRAMDB_NEW_MASTER_KEY")
    assert_one_line_error(invoke("keys", "rotate-master"), 2)
    assert_one_line_error(invoke("keys", "rotate-master", "--generate"), 2)
    monkeypatch.setenv("ENGRAMDB_MASTER_KEY", "not-a-key")
    assert "not a master key" in assert_one_line_error(invoke("stats", "-n", "u"), 2)


def test_encrypt_store_in_place_from_the_command_line(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("add", "Maya keeps a Quokkaberry plant", "-n", "u").exit_code == 0
    key = tmp_path / "master.key"
    done = ok_json(
        invoke("--json", "keys", "encrypt-store", "--generate", "--new-key-file", str(key))
    )
    assert done == {"encrypted": 1, "key": "file"}
    assert where_found(store_files(tmp_path / "store"), ["Quokkaberry"]) == []
    assert "is encrypted" in assert_one_line_error(invoke("search", "plant", "-n", "u"), 6)
    monkeypatch.setenv("ENGRAMDB_MASTER_KEY_FILE", str(key))
    assert "Quokkaberry" in invoke("search", "plant", "-n", "u").stdout
    entries = ok_json(invoke("--json", "audit"))["entries"]
    assert ("encrypt_store", 1) in [(e["action"], e["count"]) for e in entries]
    monkeypatch.delenv("ENGRAMDB_MASTER_KEY_FILE")
    monkeypatch.setenv("ENGRAMDB_NEW_MASTER_KEY", generate_key())
    # still encrypted: opening it without its key is refused before anything else
    assert_one_line_error(invoke("keys", "encrypt-store"), 6)
