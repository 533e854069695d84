"""The documentation cannot rot: its links resolve, its index lists every page, its
picture is what the script draws, and its getting-started code runs.

Links are checked the way a code host renders them: a relative target must exist,
and a ``#fragment`` must name a heading of the target page (GitHub's anchors:
lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for repeats).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
INTEGRATIONS = DOCS / "integrations" / "README.md"

#: ``[text](target)`` and ``![alt](target)``; the text may span lines
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _pages() -> list[Path]:
    """Every Markdown page a reader of the repository follows links in."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.split() if (ROOT / name).exists()]


def _prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """The anchors a code host gives the headings of a Markdown page."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
        slug = re.sub(r"[^\w\- ]", "", plain.strip().lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def _links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def _is_local(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target)


def test_anchors_follow_the_code_hosts_rules() -> None:
    page = "# A\n## `engram serve`\n## Ingest: vectors (docs/write-path.md)\n## A\n"
    assert anchors(page) == {"a", "engram-serve", "ingest-vectors-docswrite-pathmd", "a-1"}


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    for page in _pages():
        for target in _links(page):
            if not _is_local(target):
                continue
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif (
                fragment
                and resolved.suffix == ".md"
                and fragment not in anchors(resolved.read_text(encoding="utf-8"))
            ):
                broken.append(f"{where} (no such heading)")
    assert broken == []


def _linked_pages(index: Path) -> set[Path]:
    return {
        (index.parent / target.partition("#")[0]).resolve()
        for target in _links(index)
        if _is_local(target) and target.partition("#")[0]
    }


def test_the_docs_index_lists_every_page() -> None:
    """docs/README.md is the table of contents: a new page gets its line there (the
    integrations folder has its own index, docs/integrations/README.md)."""
    pages = {
        page.resolve()
        for page in DOCS.rglob("*.md")
        if page != INDEX and page.parent != INTEGRATIONS.parent
    } | {INTEGRATIONS.resolve()}
    missing = sorted(str(page.relative_to(ROOT)) for page in pages - _linked_pages(INDEX))
    assert missing == [], "add a line for each to docs/README.md"


def test_the_integrations_index_lists_every_integration_page() -> None:
    pages = {page.resolve() for page in INTEGRATIONS.parent.rglob("*.md") if page != INTEGRATIONS}
    missing = sorted(str(page.relative_to(ROOT)) for page in pages - _linked_pages(INTEGRATIONS))
    assert missing == [], "add a line for each to docs/integrations/README.md"


def test_the_readme_links_the_docs_index() -> None:
    assert (ROOT / "docs" / "README.md").resolve() in _linked_pages(ROOT / "README.md")


def test_the_memory_model_picture_is_what_the_script_draws() -> None:
    done = _run_script("memory_model_diagram.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_getting_started_python_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    first = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert first, "docs/getting-started.md has no Python block"
    exec(compile(first.group(1), "docs/getting-started.md", "exec"), {})
    shown = capsys.readouterr().out
    assert "Pastel" in shown
    assert "Denver" in shown
    assert "superseded" in shown


def _run_script(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_reference_pages_are_what_the_code_says() -> None:
    """docs/reference/ is generated from Settings, ``engram --help`` and the OpenAPI
    document: a new setting, command, option or route fails here until `make docs`."""
    done = _run_script("reference_docs.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_setting_has_a_description_and_a_line() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from reference_docs import settings_fields
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    undescribed = [name for name, _, _, _, description in settings_fields() if not description]
    assert undescribed == [], "add a comment above each in engramdb/config.py"
    assert all(f"[`{name}`]" in page for name, *_ in settings_fields())


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    read = {
        name
        for path in (ROOT / "src" / "engramdb").rglob("*.py")
        for name in re.findall(r"ENGRAMDB_[A-Z0-9_]+", path.read_text(encoding="utf-8"))
        if not name.endswith("_")  # a prefix, such as ENGRAMDB_NEW_ for key rotation
    }
    assert read, "no ENGRAMDB_* variable found in the code"
    undocumented = sorted(name for name in read if f"`{name}`" not in page)
    assert undocumented == [], "document each in scripts/reference_docs.py, OTHER_VARIABLES"
