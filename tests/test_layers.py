"""The package's layers, read from its imports (docs/architecture.md, "Layers, top to bottom").

Every ``import`` and ``from ... import`` in ``src/engramdb`` is read with ``ast``
wherever it sits: at the top of a module, inside a function (a deferred import
is still a dependency), or under ``TYPE_CHECKING``. Relative imports are
resolved. Each imported name counts as ``module.name``, so ``from engramdb import
server`` is an import of ``engramdb.server`` like ``import engramdb.server`` is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "engramdb"

#: The floor: what every other layer may import, and which imports nothing above it.
FLOOR = (
    "engramdb.model",
    "engramdb.errors",
    "engramdb.clock",
    "engramdb.config",
    "engramdb.bounded",
    "engramdb.filters",
)
SERVER = "engramdb.server"
#: The one CLI module that starts the server (``engram serve``, ``engram mcp``): it
#: imports the server's entry points and nothing else of ``server/``. What the CLI
#: shares with the server (API keys, the audit log, error codes) lives outside it.
LAUNCHER = "engramdb.cli.serve"
LAUNCHER_IMPORTS = {
    "engramdb.server.http.JsonErrorsH11",
    "engramdb.server.http.create_app",
    "engramdb.server.mcp.build_mcp",
    "engramdb.server.options.LOOPBACK_HOSTS",
    "engramdb.server.options.ServerOptions",
}
#: Encryption at rest is sealed inside the store; the cipher needs only the floor.
CIPHER = "engramdb.security.crypto"
#: The key hierarchy over the cipher that both stores keep their keys by.
KEYS = "engramdb.security.datakeys"
#: The layers between the facade and the store: they see ``store.base`` only.
MIDDLE = ("engramdb.recall", "engramdb.dynamics", "engramdb.consolidate", "engramdb.learn")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module: engramdb.cli.serve
    target: str  # what it names: engramdb.server.http.create_app, sqlite3
    line: int

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_imports(module: str, source: str, *, is_package: bool = False) -> list[Import]:
    """Every import in ``source``, the code of ``module``, wherever it sits."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = str(node.module)
            found += [Import(module, f"{origin}.{alias.name}", node.lineno) for alias in node.names]
    return found


@cache
def package_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += read_imports(
            module_name(path),
            path.read_text(encoding="utf-8"),
            is_package=path.name == "__init__.py",
        )
    return tuple(found)


def imports_of(*prefixes: str) -> list[Import]:
    return [i for i in package_imports() if within(i.module, *prefixes)]


def ours(imports: Iterable[Import]) -> list[Import]:
    return [i for i in imports if within(i.target, "engramdb")]


def test_the_reader_sees_deferred_relative_and_package_imports() -> None:
    source = (
        "import os\n"
        "from engramdb.model import Engram\n"
        "from . import sibling\n"
        "from ..server import keys\n"
        "def later():\n"
        "    from engramdb import server\n"
        "    import engramdb.server.http\n"
    )
    found = read_imports("engramdb.cli.example", source)
    assert [i.target for i in found] == [
        "os",
        "engramdb.model.Engram",
        "engramdb.cli.sibling",
        "engramdb.server.keys",
        "engramdb.server",
        "engramdb.server.http",
    ]
    assert [i.target for i in ours(found) if within(i.target, SERVER)] == [
        "engramdb.server.keys",
        "engramdb.server",
        "engramdb.server.http",
    ]
    in_package = read_imports("engramdb.cli", "from .state import state\n", is_package=True)
    assert [i.target for i in in_package] == ["engramdb.cli.state.state"]


def test_the_walk_reads_the_whole_package() -> None:
    modules = {i.module for i in package_imports()}
    assert {"engramdb", "engramdb.client", "engramdb.cli.serve", "engramdb.model"} <= modules
    # a deferred import (inside ``serve``) is found
    assert "engramdb.server.http.create_app" in {i.target for i in imports_of(LAUNCHER)}


def test_the_client_and_the_cli_do_not_import_the_server() -> None:
    reached = [i for i in imports_of("engramdb.client", "engramdb.cli") if within(i.target, SERVER)]
    outside = [i for i in reached if not (i.module == LAUNCHER and i.target in LAUNCHER_IMPORTS)]
    assert not outside, "\n".join(map(str, outside))
    # the launcher's list stays exact: an entry point it stops importing leaves the list
    assert {i.target for i in reached} == LAUNCHER_IMPORTS


def test_the_floor_imports_nothing_above_it() -> None:
    above = [i for i in ours(imports_of(*FLOOR)) if not within(i.target, *FLOOR)]
    assert not above, "\n".join(map(str, above))


def test_stores_import_only_the_floor_their_own_package_and_the_cipher() -> None:
    # and the extras table (it needs only the floor): the registry names the extra
    # a backend needs (the postgres extra for PostgresStore); and the key hierarchy,
    # which needs only the floor and the cipher
    allowed = (*FLOOR, "engramdb.store", CIPHER, KEYS, "engramdb.extras")
    above = [i for i in ours(imports_of("engramdb.store")) if not within(i.target, *allowed)]
    assert not above, "\n".join(map(str, above))
    cipher = [i for i in ours(imports_of(CIPHER)) if not within(i.target, *FLOOR)]
    assert not cipher, "\n".join(map(str, cipher))
    keys = [i for i in ours(imports_of(KEYS)) if not within(i.target, *FLOOR, CIPHER)]
    assert not keys, "\n".join(map(str, keys))


def test_security_uses_the_floor_and_the_store_never_the_server_or_the_cli() -> None:
    allowed = (*FLOOR, "engramdb.security", "engramdb.store")
    above = [i for i in ours(imports_of("engramdb.security")) if not within(i.target, *allowed)]
    assert not above, "\n".join(map(str, above))


def test_the_middle_layers_see_the_store_interface_only() -> None:
    concrete = [
        i
        for i in ours(imports_of(*MIDDLE))
        if within(i.target, "engramdb.store") and not within(i.target, "engramdb.store.base")
    ]
    assert not concrete, "\n".join(map(str, concrete))


def test_only_the_sqlite_store_imports_sqlite3() -> None:
    found = [
        i
        for i in package_imports()
        if within(i.target, "sqlite3") and not within(i.module, "engramdb.store.sqlite")
    ]
    assert not found, "\n".join(map(str, found))


def test_only_the_postgres_store_imports_psycopg_and_pgvector() -> None:
    found = [
        i
        for i in package_imports()
        if within(i.target, "psycopg", "pgvector")
        and not within(i.module, "engramdb.store.postgres")
    ]
    assert not found, "\n".join(map(str, found))
    # and the store does import them: the rule is not vacuous
    assert any(within(i.target, "psycopg") for i in imports_of("engramdb.store.postgres"))


def test_the_backends_do_not_import_each_other() -> None:
    backends = ("engramdb.store.sqlite", "engramdb.store.postgres")
    crossing = [
        i
        for backend in backends
        for i in ours(imports_of(backend))
        if within(i.target, *(other for other in backends if other != backend))
    ]
    assert not crossing, "\n".join(map(str, crossing))
