"""Every package engramdb imports is declared in pyproject.toml, where a plain install gets it.

``pip install engramdb`` installs ``[project] dependencies`` and nothing else,
so a module of the core that imports anything more at load time breaks every
``import engramdb``. The test environment cannot show that by importing: it has
every extra installed, and an extra's packages pull in more (``cryptography``
once came only through ``mcp``). So this reads the imports of the installed
package's source with ``ast``, maps each third-party module to its distribution
(``importlib.metadata.packages_distributions``) and checks it against
pyproject.toml. What a user gets from a fresh install is exercised by
``.ci/smoke.py``, which ``.ci/run`` runs in a new virtualenv.

The rules:

- a core module's load-time imports are core dependencies, and a core module
  never imports an optional-feature module at load time;
- an optional-feature module (``OPTIONAL``) imports core dependencies and its
  own extra's packages;
- an import inside a function of a core module is a core dependency, or sits
  in ``with needs_extra(extra, ...)`` (``engramdb.extras``) whose extra
  declares it, so a missing package is one clear error naming the extra;
- ``engramdb.extras.EXTRAS`` names the same extras and packages as pyproject.toml.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import engramdb
from engramdb.extras import EXTRAS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extra installs tomli on 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PACKAGE = Path(engramdb.__file__).resolve().parent

#: The modules (and packages) that only an extra makes importable, and why.
OPTIONAL: dict[str, tuple[str, str]] = {
    "engramdb.server.http": ("server", "the FastAPI app and its routers (docs/server.md)"),
    "engramdb.server.mcp": ("server", "the MCP tools, built on the MCP SDK (docs/server.md)"),
    "engramdb.server.schemas": ("server", "the HTTP API's pydantic models"),
    "engramdb.server.lessons": ("server", "the HTTP API's models for experiences and concepts"),
    "engramdb.server.scopes": ("server", "the HTTP API's models for several namespaces"),
    "engramdb.server.profile": ("server", "the HTTP API's models for the pinned profile"),
    "engramdb.server.expiry": ("server", "the HTTP API's models for expiry"),
    "engramdb.server.ui": ("server", "the dashboard's routes (docs/dashboard.md)"),
    "engramdb.store.postgres": ("postgres", "the PostgreSQL store, psycopg 3 and pgvector"),
    "engramdb.integrations.langchain": ("langchain", "a LangChain retriever (langchain-core)"),
    "engramdb.integrations.llamaindex": ("llamaindex", "LlamaIndex's retriever and memory block"),
    "engramdb.integrations.langgraph": ("langgraph", "a LangGraph store (BaseStore)"),
}


@dataclass(frozen=True)
class Import:
    module: str  # where the import statement is
    name: str  # what it imports, absolute
    line: int
    load_time: bool  # runs when the module is imported (not in a function)
    extra: str | None  # the extra of the enclosing ``with needs_extra(...)``


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _absolute(node: ast.ImportFrom, module: str, package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _needs_extra(item: ast.withitem) -> str | None:
    call = item.context_expr
    if not isinstance(call, ast.Call) or not call.args:
        return None
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    first = call.args[0]
    if name == "needs_extra" and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def _walk(
    body: list[ast.stmt], module: str, package: bool, load_time: bool, extra: str | None
) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, load_time, extra)
        elif isinstance(node, ast.ImportFrom):
            name = _absolute(node, module, package)
            yield Import(module, name, node.lineno, load_time, extra)
            if name.partition(".")[0] == "engramdb":  # `from engramdb.cli import serve`
                for alias in node.names:
                    yield Import(module, f"{name}.{alias.name}", node.lineno, load_time, extra)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(node.body, module, package, False, extra)
        elif isinstance(node, ast.If) and _type_checking(node.test):
            yield from _walk(node.orelse, module, package, load_time, extra)  # types only
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            inner = next((e for e in map(_needs_extra, node.items) if e), extra)
            yield from _walk(node.body, module, package, load_time, inner)
        else:  # class bodies, if/try/for/while blocks: run when their code runs
            for field in ("body", "orelse", "finalbody"):
                yield from _walk(getattr(node, field, []), module, package, load_time, extra)
            for clause in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
                yield from _walk(clause.body, module, package, load_time, extra)


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found.extend(_walk(tree.body, _module_name(path), _is_package(path), True, None))
    return tuple(found)


def optional_extra(module: str) -> str | None:
    """The extra that ``module`` needs, if it is (inside) an optional-feature module."""
    for name, (extra, _) in OPTIONAL.items():
        if module == name or module.startswith(name + "."):
            return extra
    return None


def third_party(name: str) -> str | None:
    top = name.partition(".")[0]
    if not top or top == "engramdb" or top in sys.stdlib_module_names:
        return None
    return top


@cache
def distribution(top: str) -> str:
    dists = packages_distributions().get(top)
    assert dists, f"module {top!r} is not installed here: cannot tell which distribution it is"
    names = [str(canonicalize_name(d)) for d in dists]
    # A package several distributions share (``langgraph``: langgraph, langgraph-checkpoint,
    # langgraph-prebuilt) is the one named after it, which installs the others.
    own = str(canonicalize_name(top))
    return own if own in names else names[0]


@cache
def declared() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The core dependencies and each extra's, as canonical distribution names."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> frozenset[str]:
        return frozenset(str(canonicalize_name(Requirement(r).name)) for r in requirements)

    core = names(project["dependencies"])
    extras = {k: names(v) for k, v in project["optional-dependencies"].items()}
    return core, extras


def _where(imp: Import) -> str:
    dist = distribution(third_party(imp.name) or "")
    return f"{imp.module} line {imp.line}: import {imp.name} ({dist})"


def test_core_modules_import_only_core_dependencies_at_load_time() -> None:
    core, _ = declared()
    wrong = [
        _where(imp)
        for imp in imports()
        if imp.load_time
        and optional_extra(imp.module) is None
        and (top := third_party(imp.name)) is not None
        and distribution(top) not in core
    ]
    assert not wrong, "not in pyproject.toml [project] dependencies:\n" + "\n".join(wrong)


def test_core_modules_import_no_optional_module_at_load_time() -> None:
    wrong = [
        f"{imp.module} line {imp.line}: import {imp.name}"
        for imp in imports()
        if imp.load_time and optional_extra(imp.module) is None and optional_extra(imp.name)
    ]
    assert not wrong, "a core module imports an optional-feature module:\n" + "\n".join(wrong)


def test_optional_modules_import_core_dependencies_and_their_extra() -> None:
    core, extras = declared()
    wrong = []
    for imp in imports():
        extra = optional_extra(imp.module)
        top = third_party(imp.name)
        if extra is not None and top is not None and distribution(top) not in core | extras[extra]:
            wrong.append(f"{_where(imp)} is in neither the core nor the {extra!r} extra")
    assert not wrong, "\n".join(wrong)


def test_deferred_imports_of_optional_packages_name_their_extra() -> None:
    core, extras = declared()
    wrong = []
    for imp in imports():
        if imp.load_time or optional_extra(imp.module) is not None:
            continue
        top = third_party(imp.name)
        if top is not None and distribution(top) in core:
            continue
        needed = optional_extra(imp.name)
        if top is None and needed is None:
            continue  # one of our core modules, imported late to stay cheap
        if imp.extra is None:
            wrong.append(f"{imp.module} line {imp.line}: import {imp.name} outside needs_extra")
        elif (top is not None and distribution(top) not in extras.get(imp.extra, ())) or (
            needed is not None and needed != imp.extra
        ):
            wrong.append(f"{imp.module} line {imp.line}: {imp.name} is not in extra {imp.extra!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extras_table_matches_pyproject(extra: str) -> None:
    _, extras = declared()
    assert {distribution(top) for top in EXTRAS[extra]} == extras[extra]


def test_every_user_facing_extra_is_in_the_extras_table() -> None:
    _, extras = declared()
    # dev and ui-test (Playwright for tests/ui) install test tools, not features
    assert set(extras) - {"dev", "ui-test"} == set(EXTRAS)


def test_the_walk_sees_deferred_and_guarded_imports() -> None:
    # The checks above are only as good as the walk: pin what it must find.
    found = {(i.module, i.name): i for i in imports()}
    crypto = found[("engramdb.security.crypto", "cryptography.hazmat.primitives.ciphers.aead")]
    assert crypto.load_time
    assert not found[("engramdb.store.graph", "usearch.index")].load_time
    plot = found[("engramdb.cli.curve", "matplotlib.pyplot")]
    assert (plot.load_time, plot.extra) == (False, "plot")
    assert ("engramdb.client", "httpx") in found  # not the TYPE_CHECKING one: that is skipped
    assert found[("engramdb.client", "httpx")].extra == "client"
    assert optional_extra("engramdb.server.http.routers.search") == "server"
    assert optional_extra("engramdb.security.keys") is None
