"""Coverage of the rule extractor: precision and recall per attribute (docs/consolidation.md).

Scores ``RuleExtractor`` against ``bench/data/facts_labels.jsonl``: seeded
LoCoMo dev turns (stored by conversation index and ``dia_id`` only; the text
is read from the dataset at run time, which is CC BY-NC) and written
statements (text included). The labelling and matching rules are in
docs/consolidation.md ("Coverage of the rule extractor"). Each split (``dev``,
``held_out``, ``fresh``) and each source is reported apart; events (``did``) and plans
(``plan``) are not scored.

    python bench/facts.py [--show-misses dev] [--out bench/results/facts.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engramdb.consolidate.extract import RuleExtractor
from engramdb.formats.locomo import turn_text

LABELS = Path(__file__).resolve().parent / "data" / "facts_labels.jsonl"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/locomo/locomo_dev.json"
UNSCORED = {"did", "plan"}
_SYNONYMS = {
    "mom": "mother", "mum": "mother", "dad": "father", "grandma": "grandmother",
    "grandpa": "grandfather", "puppy": "dog", "kitten": "cat", "bunny": "rabbit",
    "kids": "children", "favourite": "favorite", "hubby": "husband",
}  # fmt: skip
_POSITIVE = {"loves", "likes", "enjoys", "adores"}
_DROP = {"the", "a", "an", "my", "his", "her", "their", "our", "your", "of", "to", "about"}


@dataclass(frozen=True, slots=True)
class Statement:
    key: str
    source: str
    split: str
    speaker: str
    text: str
    facts: tuple[tuple[str, str, str], ...]


def load(labels: Path, data: Path) -> list[Statement]:
    conversations: list[dict[str, Any]] | None = None
    statements = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["source"] == "locomo":
            if conversations is None:
                conversations = json.loads(data.read_text(encoding="utf-8"))
            text = _turn(conversations[row["conversation"]], row["dia_id"])
            key = f"locomo:{row['conversation']}:{row['dia_id']}"
        else:
            text, key = row["text"], row["id"]
        facts = tuple((f["subject"], f["attribute"], f["value"]) for f in row["facts"])
        statements.append(Statement(key, row["source"], row["split"], row["speaker"], text, facts))
    return statements


def _turn(conversation: dict[str, Any], dia_id: str) -> str:
    for name, session in conversation["conversation"].items():
        if name.startswith("session_") and isinstance(session, list):
            for turn in session:
                if turn["dia_id"] == dia_id:
                    return turn_text(turn)
    raise KeyError(dia_id)


def _words(text: str) -> set[str]:
    words = re.findall(r"[\w'-]+", text.casefold().replace("\u2019", "'"))
    return {_stem(_SYNONYMS.get(w, w)) for w in words if w not in _DROP}


def _stem(word: str) -> str:
    """A light stem, so "collect jerseys" matches "collecting jerseys"."""
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _contained(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


def family(attribute: str) -> str:
    """The group an attribute is reported under."""
    for prefix in ("number of ", "favorite ", "feeling about ", "pet "):
        if attribute.startswith(prefix):
            return prefix.strip().removesuffix(" of").removesuffix(" about")
    if attribute in {"residence", "employer", "occupation", "partner", "age", "situation"}:
        return attribute
    return attribute if attribute in UNSCORED else "relation"


def matches(found: tuple[str, str, str], label: tuple[str, str, str]) -> bool:
    (fs, fa, fv), (ls, la, lv) = found, label
    if fs.casefold() != ls.casefold() or family(fa) != family(la):
        return False
    kind = family(la)
    if kind == "feeling":
        same_sign = (fv in _POSITIVE) == (lv in _POSITIVE)
        return same_sign and _contained(fa.removeprefix("feeling about "), la[14:])
    if kind in {"favorite", "number", "pet", "relation"} and _words(fa) != _words(la):
        return False
    return _contained(fv, lv)


def score(statements: Iterable[Statement]) -> tuple[dict[str, dict[str, float]], list[str]]:
    extractor = RuleExtractor()
    tp_found: Counter[str] = Counter()
    n_found: Counter[str] = Counter()
    tp_label: Counter[str] = Counter()
    n_label: Counter[str] = Counter()
    misses: list[str] = []
    for st in statements:
        found = [
            (e.subject, e.attribute, e.value)
            for e in extractor.extract_one(st.text, st.speaker)
            if e.attribute not in UNSCORED
        ]
        for f in found:
            n_found[family(f[1])] += 1
            if any(matches(f, label) for label in st.facts):
                tp_found[family(f[1])] += 1
            else:
                misses.append(f"FALSE {st.key} {f} <- {st.speaker}: {st.text[:160]!r}")
        for label in st.facts:
            n_label[family(label[1])] += 1
            if any(matches(f, label) for f in found):
                tp_label[family(label[1])] += 1
            else:
                misses.append(f"MISSED {st.key} {label} <- {st.speaker}: {st.text[:160]!r}")
    table: dict[str, dict[str, float]] = {}
    for kind in sorted(set(n_found) | set(n_label)):
        table[kind] = _row(tp_found[kind], n_found[kind], tp_label[kind], n_label[kind])
    table["overall"] = _row(
        sum(tp_found.values()), sum(n_found.values()), sum(tp_label.values()), sum(n_label.values())
    )
    return table, misses


def _row(tp_found: int, n_found: int, tp_label: int, n_label: int) -> dict[str, float]:
    return {
        "precision": tp_found / n_found if n_found else 1.0,
        "recall": tp_label / n_label if n_label else 1.0,
        "found": n_found,
        "labelled": n_label,
    }


def _print(title: str, table: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'attribute':<12} {'precision':>9} {'recall':>7} {'found':>6} {'labelled':>8}")
    for kind, row in table.items():
        print(
            f"{kind:<12} {row['precision']:>9.2f} {row['recall']:>7.2f} "
            f"{int(row['found']):>6} {int(row['labelled']):>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-misses", choices=["dev", "held_out", "fresh"], default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/facts.json"))
    args = parser.parse_args(argv)
    statements = load(args.labels, args.data)
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/facts.py", *(argv or sys.argv[1:])]),
        "statements": len(statements),
    }
    for split in ("dev", "held_out", "fresh", "all"):
        for source in ("all", "own", "locomo"):
            chosen = [
                s for s in statements if split in {"all", s.split} and source in {"all", s.source}
            ]
            table, misses = score(chosen)
            report[f"{split}/{source}"] = table
            if source == "all" or split == "all":
                _print(f"{split} split, {source} statements ({len(chosen)})", table)
            if args.show_misses == split and source == "all":
                print("\n".join(misses))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
