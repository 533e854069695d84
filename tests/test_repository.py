"""What the repository says points somewhere a reader can follow.

Code, tests and docs cite the doc that explains a feature (``docs/*.md``),
never a tracker number that a reader of the repository cannot see, and every
file they cite exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.toml", "Makefile", ".ci/*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.split()]


FILES = _tracked_text_files()
#: How code cites a doc of the repository: a path under docs/ or a root file such as the README.
CITED = re.compile(r"(?<![\w./-])(docs/[\w/-]+\.md|[A-Z]+\.md)\b")


def test_no_file_cites_a_tracker_number() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in FILES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bissues? #?\d+\b", line, re.IGNORECASE)
    ]
    assert found == []


def test_every_cited_doc_exists() -> None:
    missing = []
    for path in FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in CITED.findall(line):
                if not (ROOT / name).exists():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert missing == []
