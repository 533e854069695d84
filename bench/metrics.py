"""Retrieval metrics shared by the benchmarks: Recall@k and NDCG@k over id lists."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

KS = (1, 5, 10, 20)


def recall_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    if not relevant:
        return 0.0
    top = set(ranked[:k])
    return sum(1 for r in relevant if r in top) / len(relevant)


def ndcg_at(ranked: Sequence[str], relevant: Sequence[str], k: int = 10) -> float:
    wanted = set(relevant)
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in wanted)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(wanted), k)))
    return dcg / ideal if ideal else 0.0


def score_run(
    rankings: Sequence[Sequence[str]], evidence: Sequence[Sequence[str]], categories: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Mean R@k and NDCG@10 overall and per category: {"all": {...}, "1": {...}, ...}."""
    rows: dict[str, list[dict[str, float]]] = {}
    for ranked, relevant, category in zip(rankings, evidence, categories, strict=True):
        row = {f"R@{k}": recall_at(ranked, relevant, k) for k in KS}
        row["NDCG@10"] = ndcg_at(ranked, relevant, 10)
        rows.setdefault("all", []).append(row)
        rows.setdefault(str(category), []).append(row)
    return {
        group: {key: float(np.mean([r[key] for r in items])) for key in items[0]}
        | {"n": float(len(items))}
        for group, items in sorted(rows.items())
    }


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0
