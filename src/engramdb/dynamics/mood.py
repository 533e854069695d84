"""The mood of a namespace over a time window: ``mem.mood`` (docs/context.md, "Mood").

Owns reading valence and arousal from the emotion tags of the episodes that
occurred in a window, and the memories that drive it. It reads the window's
latest ``WINDOW_EPISODES`` episodes by the store's time index, never the
namespace, so a mood costs the same in a namespace of a thousand memories or
a million. It does not tag emotions (``dynamics.emotion``) nor put the mood
in a prompt (``recall.prompt``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from engramdb.model import Engram, Mood
from engramdb.store.base import Catalog, Store

__all__ = ["DRIVERS", "WINDOW", "WINDOW_EPISODES", "MoodReading", "read_mood", "window_mood"]

#: How many mood drivers are reported.
DRIVERS = 5
#: The window ``context`` reads the mood over.
WINDOW = timedelta(days=7)
#: The most episodes a mood reads: a window's latest (a recall pool's worth).
WINDOW_EPISODES = 1_000


@dataclass(frozen=True, slots=True)
class MoodReading:
    """A mood computed from a catalog: the numbers and the driving memories' ids."""

    valence: float
    arousal: float
    emotion: str
    memories: int
    drivers: tuple[str, ...]


def read_mood(catalog: Catalog, start: datetime, end: datetime) -> MoodReading:
    """Valence and arousal of the episodes that occurred in ``[start, end]``.

    Valence is weighted by arousal (a calm remark moves the mood less than an
    outburst; Bradley & Lang's affective space), so a window of neutral
    memories reads 0. Drivers are ranked by |valence| x arousal.
    """
    dynamics = catalog.dynamics
    n = len(catalog)
    episode = np.array(
        [k == "episode" for k in catalog.kinds] if catalog.kinds else [True] * n, dtype=bool
    )
    inside = (
        episode
        & (catalog.occurred_at >= start.timestamp())
        & (catalog.occurred_at <= end.timestamp())
    )
    count = int(inside.sum())
    if dynamics is None or count == 0:
        return MoodReading(0.0, 0.0, "neutral", count, ())
    valence = dynamics.valence[inside]
    arousal = dynamics.arousal[inside]
    weight = float(arousal.sum())
    mean_valence = float((valence * arousal).sum() / weight) if weight > 0 else 0.0
    rows = np.flatnonzero(inside)
    strength = np.abs(valence) * arousal
    strongest = np.argsort(-strength, kind="stable")[:DRIVERS]
    drivers = tuple(catalog.ids[int(rows[j])] for j in strongest if strength[j] > 0)
    carried: dict[str, float] = {}
    for i in rows:
        label = dynamics.emotions[int(i)]
        if label != "neutral":
            carried[label] = carried.get(label, 0.0) + float(dynamics.arousal[int(i)])
    emotion = max(carried, key=lambda k: carried[k]) if carried else "neutral"
    return MoodReading(mean_valence, float(arousal.mean()), emotion, count, drivers)


def window_mood(
    store: Store,
    namespace: str,
    start: datetime,
    end: datetime,
    seen: Callable[[Iterable[Engram]], dict[str, Engram]],
    hidden: Collection[str] = frozenset(),
) -> Mood:
    """The namespace's mood over ``[start, end]`` (its latest ``WINDOW_EPISODES``
    episodes, but those of ``hidden``: expired, docs/expiry.md); ``seen`` lays this
    process's pending recalls over the drivers read from the store."""
    latest = store.latest_episodes(namespace, start, end, WINDOW_EPISODES)
    latest = [i for i in latest if i not in hidden]
    reading = read_mood(store.catalog_of(namespace, latest), start, end)  # tone only
    found = seen(store.get_many(namespace, reading.drivers).values())
    return Mood(
        namespace=namespace,
        start=start,
        end=end,
        valence=reading.valence,
        arousal=reading.arousal,
        emotion=reading.emotion,
        memories=reading.memories,
        drivers=tuple(found[i] for i in reading.drivers if i in found),
    )
