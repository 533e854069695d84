"""A feature whose extra is not installed says which extra, in one line, never a traceback.

Each case runs in a fresh interpreter whose import system refuses one package,
as if it had never been installed (a meta-path finder that raises
``ModuleNotFoundError`` for it), so the real CLI and the real ``Client`` are
exercised; nothing of engramdb is replaced. See ``engramdb.extras``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engramdb import MissingExtraError
from engramdb.cli.errors import EXIT_FAILURE
from engramdb.extras import EXTRAS, needs_extra

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"

BLOCK = """\
import sys

class _Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {packages!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Uninstalled())
"""


def run_without(
    packages: str | list[str], code: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter in which ``packages`` cannot be imported."""
    refused = sorted([packages] if isinstance(packages, str) else packages)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAMDB_")}
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(packages=refused) + code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def engram_without(package: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from engramdb.cli import main\nmain()\n"
    return run_without(package, code, "--store", str(cwd / "store"), *args, cwd=cwd)


@pytest.mark.parametrize(
    ("package", "args", "extra"),
    [
        ("fastapi", ["serve", "--no-auth"], "server"),
        ("uvicorn", ["serve", "--no-auth"], "server"),
        ("mcp", ["serve", "--no-auth"], "server"),
        ("mcp", ["mcp"], "server"),
        ("matplotlib", ["curve", UNKNOWN_ID, "--out", "curve.png"], "plot"),
    ],
)
def test_a_command_without_its_extra_exits_1_with_one_line(
    tmp_path: Path, package: str, args: list[str], extra: str
) -> None:
    result = engram_without(package, *args, cwd=tmp_path)
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    command = args[0]
    assert line == (
        f"engram: error: engram {command} needs the {extra!r} extra "
        f"(No module named '{package}'): pip install 'engramdb[{extra}]'"
    )
    assert not (tmp_path / "store").exists()  # it stopped before opening the store


def test_client_without_httpx_raises_missing_extra_error(tmp_path: Path) -> None:
    code = (
        "import engramdb\n"
        "try:\n"
        "    engramdb.Client('http://127.0.0.1:1')\n"
        "except engramdb.MissingExtraError as exc:\n"
        "    assert isinstance(exc, ImportError)\n"
        "    print(exc)\n"
    )
    result = run_without("httpx", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "engramdb.Client needs the 'client' extra (No module named 'httpx'): "
        "pip install 'engramdb[client]'"
    )


def test_fp32_embedder_without_safetensors_raises_missing_extra_error(tmp_path: Path) -> None:
    # The extra is named first: without it, the weights file alone would not help.
    code = (
        "import engramdb\n"
        "from engramdb.embed import NumpyMiniLMEmbedder\n"
        "try:\n"
        "    NumpyMiniLMEmbedder(weights_path='absent.safetensors').embed(['hello'])\n"
        "except engramdb.MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    result = run_without("safetensors", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(
        "(No module named 'safetensors'): pip install 'engramdb[fp32]'"
    )


def test_import_engramdb_needs_no_extra(tmp_path: Path) -> None:
    # The core, CLI included, loads with every extra's packages refused at once.
    refused = [p for packages in EXTRAS.values() for p in packages]
    code = "import engramdb, engramdb.cli, engramdb.client, engramdb.embed\nprint('ok')\n"
    result = run_without(refused, code, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_an_import_error_of_our_own_is_not_called_a_missing_extra() -> None:
    # A bug (an import of something no extra installs) keeps its own error.
    with pytest.raises(ModuleNotFoundError) as caught, needs_extra("client", "a feature"):
        import engramdb_no_such_module  # noqa: F401
    assert not isinstance(caught.value, MissingExtraError)


def test_missing_extra_error_is_an_import_error() -> None:
    # Code that caught the ImportError a Client raised before keeps working.
    assert issubclass(MissingExtraError, ImportError)


def test_a_server_missing_an_extra_answers_501_and_the_client_raises_it(tmp_path: Path) -> None:
    # A server configured with the fp32 embedder but installed without its extra.
    code = (
        "import json\n"
        "from fastapi.testclient import TestClient\n"
        "from engramdb import Settings\n"
        "from engramdb.wire import error_class\n"
        "from engramdb.server.http import ServerOptions, create_app\n"
        "settings = Settings(path=':memory:', embedder='local-fp32')\n"
        "app = create_app(settings, options=ServerOptions(auth=False))\n"
        "with TestClient(app) as http:\n"
        "    answer = http.post('/v1/namespaces/n/engrams', json={'text': 'hello'})\n"
        "error = answer.json()['error']\n"
        "print(json.dumps([answer.status_code, error['code'], error['message'],\n"
        "                  error_class(error['code']).__name__]))\n"
    )
    result = run_without("safetensors", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    status, code_, message, raised = json.loads(result.stdout)
    assert (status, code_, raised) == (501, "missing_extra", "MissingExtraError")
    assert "pip install 'engramdb[fp32]'" in message


@pytest.mark.parametrize(
    ("module", "package", "extra"),
    [
        ("engramdb.integrations.langchain", "langchain_core", "langchain"),
        ("engramdb.integrations.llamaindex", "llama_index", "llamaindex"),
        ("engramdb.integrations.langgraph", "langgraph", "langgraph"),
    ],
)
def test_an_adapter_without_its_framework_raises_missing_extra_error(
    tmp_path: Path, module: str, package: str, extra: str
) -> None:
    code = (
        "import engramdb\n"
        "try:\n"
        f"    import {module}\n"
        "except engramdb.MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    result = run_without(package, code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{module} needs the {extra!r} extra (No module named '{package}'): "
        f"pip install 'engramdb[{extra}]'"
    )
