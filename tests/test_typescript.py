"""The TypeScript client (clients/typescript/) cannot drift from the server.

Its types are generated from the server's OpenAPI document (scripts/ts_types.py), so a
route, option or schema added to the server fails here until they are regenerated;
every route has a method; its error classes are the Python tree's; its README shows
the lines that its tests compile. Its own tests, against a real server, run under
node in CI (``.ci/run typescript``): they need node and npm, which this suite does not.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import engramdb.errors

ROOT = Path(__file__).parents[1]
CLIENT = ROOT / "clients" / "typescript"


def _source(name: str) -> str:
    return (CLIENT / name).read_text(encoding="utf-8")


def test_the_generated_types_are_the_servers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ts_types.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_route_of_the_server_has_a_method() -> None:
    routes = re.findall(r'^  "([A-Z]+ /[^"]*)": \{$', _source("src/schema.ts"), re.MULTILINE)
    assert len(routes) > 20, "schema.ts lists no routes"
    client = _source("src/client.ts")
    missing = [route for route in routes if f'"{route}"' not in client]
    assert missing == [], "give each a method in clients/typescript/src/client.ts (its README)"


def test_the_error_classes_are_the_python_tree() -> None:
    declared = dict(
        re.findall(r"^export class (\w+) extends (\w+)", _source("src/errors.ts"), re.MULTILINE)
    )
    named = set(re.findall(r'^  \w+: "(\w+)",$', _source("src/schema.ts"), re.MULTILINE)) | {
        "EngramError"
    }
    assert set(declared) == named
    root = engramdb.errors.EngramError
    for name, parent in declared.items():
        python = getattr(engramdb.errors, name)
        bases = [b for b in inspect.getmro(python)[1:] if issubclass(b, root)]
        assert parent == (bases[0].__name__ if bases else "Error"), name


def _readme_block(path: Path) -> str:
    found = re.search(r"```ts\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"{path.relative_to(ROOT)} shows no TypeScript"
    return found.group(1)


def test_the_readmes_show_the_lines_the_tests_compile() -> None:
    compiled = "".join(
        line + "\n" for line in _source("test/readme.ts").splitlines() if not line.startswith("//")
    )
    assert len(compiled.splitlines()) == 5
    assert _readme_block(CLIENT / "README.md") == compiled
    assert _readme_block(ROOT / "README.md") == compiled


def test_the_package_has_no_runtime_dependency_and_pinned_tools() -> None:
    import json

    package = json.loads(_source("package.json"))
    lock = json.loads(_source("package-lock.json"))
    assert "dependencies" not in package
    for name, version in package["devDependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
