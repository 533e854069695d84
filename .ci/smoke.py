"""What a plain ``pip install engramdb`` must do, through the public API only.

``.ci/run`` installs the package with no extras into a fresh virtualenv and
runs this there, so it needs nothing but engramdb and the standard library (no
pytest). It opens a store in a temporary directory and walks the library's
life cycle (add, add_many, search, get, update, history, consolidate, close),
does the same on an encrypted store and reopens it, runs ``engram demo``, and
with ``--no-extras`` checks that the features of the extras say which extra
to install. Any failure exits non-zero with a ``smoke: FAILED`` line.

    python .ci/smoke.py [--no-extras]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import engramdb
from engramdb import DecryptionError, EncryptionKey, Memory, MissingExtraError, Settings

T0 = datetime(2024, 3, 23, 18, 0, tzinfo=timezone.utc)
NS = "smoke"
CANARY = "quokkafeather"  # a word that must never reach an encrypted store's files


class SmokeFailure(Exception):
    pass


def check(condition: object, what: str) -> None:
    """Like assert, but also under ``python -O``."""
    if not condition:
        raise SmokeFailure(what)


def step(name: str) -> None:
    print(f"smoke: {name}", flush=True)


def engram(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``engram`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("engram")
    check(script.exists(), f"no engram script beside {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAMDB_")}
    return subprocess.run(  # noqa: S603 - our own console script, our arguments
        [str(script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )


def life_cycle(path: Path) -> None:
    step(f"plain store in {path}")
    mem = Memory(str(path), settings=Settings())
    dog = mem.add(
        "I adopted a rescue dog called Pastel.",
        namespace=NS,
        speaker="Maya",
        session="s1",
        occurred_at=T0,
    )
    others = mem.add_many(
        [
            {
                "text": "Jonah started his new job at the bakery on Monday.",
                "speaker": "Jonah",
                "session": "s1",
                "occurred_at": T0 + timedelta(minutes=1),
            },
            {
                "text": "We walked up to the Moorish castle in Sintra.",
                "speaker": "Maya",
                "session": "s2",
                "occurred_at": T0 + timedelta(days=7),
            },
            {
                "text": "I am learning to play the cello.",
                "speaker": "Jonah",
                "session": "s2",
                "occurred_at": T0 + timedelta(days=7, minutes=1),
            },
        ],
        namespace=NS,
    )
    check(len(others) == 3, f"add_many returned {len(others)} memories, not 3")

    hits = mem.search("What is the name of Maya's dog?", namespace=NS)
    check(hits, "search found nothing")
    check(hits[0].engram.id == dog.id, f"search put {hits[0].engram.text!r} first, not the dog")
    hits = mem.search("Which instrument is Jonah learning?", namespace=NS)
    check(hits[0].engram.id == others[2].id, f"search put {hits[0].engram.text!r} first")

    got = mem.get(dog.id, namespace=NS)
    check(got.text == dog.text and got.speaker == "Maya", f"get returned {got!r}")

    new_text = "I adopted a rescue dog called Pastel; she turned three in May."
    updated = mem.update(dog.id, namespace=NS, text=new_text)
    check(updated.text == new_text, "update did not return the new text")
    check(mem.get(dog.id, namespace=NS).text == new_text, "get after update: old text")
    versions = mem.history(dog.id, namespace=NS)
    check(len(versions) == 2, f"history has {len(versions)} versions, not 2")
    old, current = versions
    check(old.text == dog.text and old.valid_to is not None, "the old version is not closed")
    check(current.text == new_text and current.is_current, "the new version is not current")

    report = mem.consolidate(namespace=NS)
    check(report.episodes == 4, f"consolidate read {report.episodes} episodes, not 4")
    again = mem.consolidate(namespace=NS)
    check(again.episodes == 0, "a second consolidate read episodes again")
    mem.close()

    with Memory(str(path), settings=Settings()) as reopened:
        check(reopened.get(dog.id, namespace=NS).text == new_text, "reopened store lost the update")


def encrypted(path: Path) -> None:
    step(f"encrypted store in {path}")
    key = EncryptionKey.from_text(secrets.token_hex(32))
    text = f"My locker at the climbing gym has a {CANARY} sticker on it."
    with Memory(str(path), settings=Settings(encryption=key)) as mem:
        check(mem.encrypted, "a store opened with a key is not encrypted")
        added = mem.add(text, namespace="vault", speaker="Maya", occurred_at=T0)
        mem.add("The bakery opens at seven.", namespace="vault", occurred_at=T0)
        hits = mem.search(f"which locker has the {CANARY} sticker", namespace="vault")
        check(hits and hits[0].engram.id == added.id, "encrypted search missed the memory")

    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        check(CANARY.encode() not in file.read_bytes(), f"{file} holds the plaintext")

    with Memory(str(path), settings=Settings(encryption=key)) as mem:
        check(mem.get(added.id, namespace="vault").text == text, "reopened: text differs")
        hits = mem.search(f"{CANARY} locker", namespace="vault")
        check(hits and hits[0].engram.id == added.id, "reopened: search missed the memory")

    try:
        with Memory(str(path), settings=Settings()) as mem:
            mem.get(added.id, namespace="vault")
    except DecryptionError:
        pass
    else:
        raise SmokeFailure("an encrypted store opened and read without its key")

    phrase = EncryptionKey.from_passphrase("correct horse battery staple")  # scrypt
    with Memory(str(path.with_name("phrase")), settings=Settings(encryption=phrase)) as mem:
        added = mem.add(text, namespace="vault", occurred_at=T0)
    with Memory(str(path.with_name("phrase")), settings=Settings(encryption=phrase)) as mem:
        check(mem.get(added.id, namespace="vault").text == text, "passphrase store: text differs")


def cli(tmp: Path) -> None:
    step("engram demo")
    result = engram("--store", str(tmp / "demo-store"), "demo", cwd=tmp)
    check(result.returncode == 0, f"engram demo exited {result.returncode}:\n{result.stderr}")
    check("Pastel" in result.stdout, f"engram demo did not recall the dog:\n{result.stdout}")
    check("Traceback" not in result.stderr, f"engram demo printed a traceback:\n{result.stderr}")


def missing_extras(tmp: Path) -> None:
    step("features of uninstalled extras name their extra")
    for package in ("fastapi", "uvicorn", "mcp", "matplotlib"):
        check(importlib.util.find_spec(package) is None, f"{package} is installed without extras")
    cases = {
        "server": ["serve", "--no-auth"],
        "plot": ["curve", "0123456789abcdef0123456789abcdef", "--out", "curve.png"],
    }
    for extra, args in cases.items():
        result = engram("--store", str(tmp / "extras-store"), *args, cwd=tmp)
        lines = result.stderr.splitlines()
        check(result.returncode == 1, f"engram {args[0]} exited {result.returncode}, not 1")
        check(len(lines) == 1, f"engram {args[0]} printed more than one line:\n{result.stderr}")
        check(f"pip install 'engramdb[{extra}]'" in lines[0], f"unexpected: {lines[0]}")
    if importlib.util.find_spec("httpx") is None:  # a core dependency may bring it in
        try:
            engramdb.Client("http://127.0.0.1:9")
        except MissingExtraError as exc:
            check("pip install 'engramdb[client]'" in str(exc), f"unexpected: {exc}")
        else:
            raise SmokeFailure("Client was made without httpx")
    check(importlib.util.find_spec("safetensors") is None, "safetensors is installed")
    try:
        Memory(":memory:", settings=Settings(embedder="local-fp32")).add("hello")
    except MissingExtraError as exc:
        check("pip install 'engramdb[fp32]'" in str(exc), f"unexpected: {exc}")
    else:
        raise SmokeFailure("the fp32 embedder ran without safetensors")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-extras", action="store_true", help="also check what a missing extra says"
    )
    args = parser.parse_args()
    started = time.monotonic()
    step(f"engramdb {engramdb.__version__} from {Path(engramdb.__file__).parent}")
    try:
        with tempfile.TemporaryDirectory(prefix="engram-smoke-") as name:
            tmp = Path(name)
            life_cycle(tmp / "plain")
            encrypted(tmp / "sealed")
            cli(tmp)
            if args.no_extras:
                missing_extras(tmp)
    except SmokeFailure as exc:
        print(f"smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    step(f"ok in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
