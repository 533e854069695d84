"""``store.files``: owner-only files and folders, whatever the umask (docs/security.md)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engramdb.store.files import private_dir, private_file


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_folder_it_makes_is_owner_only_and_existing_ones_keep_their_mode(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    deep = private_dir(tmp_path / "a" / "b" / "c")
    assert deep.is_dir()
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    assert _mode(tmp_path) == 0o755
    (tmp_path / "open").mkdir(mode=0o755)
    private_dir(tmp_path / "open")
    assert _mode(tmp_path / "open") == 0o755


def test_a_new_file_is_empty_and_owner_only_in_an_owner_only_folder(tmp_path: Path) -> None:
    made = private_file(tmp_path / "new" / "x.db")
    assert made.read_bytes() == b""
    assert _mode(made) == 0o600
    assert _mode(made.parent) == 0o700


def test_an_existing_file_keeps_its_content_and_mode_unless_it_must_be_new(
    tmp_path: Path,
) -> None:
    existing = tmp_path / "mine.txt"
    existing.write_text("kept", encoding="utf-8")
    existing.chmod(0o644)
    assert private_file(existing) == existing
    assert existing.read_text(encoding="utf-8") == "kept"
    assert _mode(existing) == 0o644
    with pytest.raises(FileExistsError):
        private_file(existing, exclusive=True)
