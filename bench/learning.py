"""Learning on LoCoMo dev: what feedback and the learned per-namespace weights change.

Subcommands, each deterministic with ``--seed``:

    python bench/learning.py feedback   # per conversation: feedback on half the questions,
                                        # Recall@10 of the other half before and after
    python bench/learning.py transfer   # conversation A, then B in one namespace:
                                        # A's recall after B (backward transfer)

Each subcommand is its own function below; results go to BENCHMARKS.md, "Learning".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"

#: subcommand -> (help, adds its own arguments, runs it on the parsed arguments: exit code)
COMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (text, configure, _) in COMMANDS.items():
        configure(sub.add_parser(name, help=text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    raise SystemExit(main())
