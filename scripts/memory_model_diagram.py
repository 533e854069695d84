"""Draw docs/memory-model.svg, the picture of the memory model in docs/concepts.md.

    python scripts/memory_model_diagram.py          # rewrite the SVG
    python scripts/memory_model_diagram.py --check  # exit 1 if the committed one differs

The retention panel is not a sketch: its curve is computed with the engine's own
forgetting curve and recall rule (``engramdb.dynamics.retention``), so the picture
changes when they do, and ``tests/test_docs.py`` fails until it is redrawn. Plain SVG
written by hand (no plotting library): it stays small, diffable and readable on a
code host.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from engramdb.dynamics.retention import (
    initial_stability,
    recalled_stability,
    retrievability,
)

OUT = Path(__file__).parents[1] / "docs" / "memory-model.svg"
WIDTH, HEIGHT = 960, 600
FONT = "font-family='Helvetica, Arial, sans-serif'"
INK, MUTED, LINE = "#1f2933", "#52606d", "#9aa5b1"
EPISODE, FACT, SUMMARY, READ = "#e3f2fd", "#e8f5e9", "#fff8e1", "#f3e5f5"

#: the retention example: a memory of no particular importance or emotion, left alone
#: or recalled on RECALL_DAYS, drawn from FIRST_DAY to LAST_DAY on a log scale
RECALL_DAYS = (1.0, 7.0)
FIRST_DAY, LAST_DAY = 0.1, 1000.0
DORMANT_BELOW = 0.05  # Settings.dormant_below


def _text(x: float, y: float, content: str, size: int = 13, **attrs: str) -> str:
    weight = attrs.pop("weight", "normal")
    anchor = attrs.pop("anchor", "start")
    fill = attrs.pop("fill", INK)
    style = attrs.pop("style", "normal")
    return (
        f"<text x='{x:.0f}' y='{y:.0f}' {FONT} font-size='{size}' font-weight='{weight}' "
        f"font-style='{style}' text-anchor='{anchor}' fill='{fill}'>{escape(content)}</text>"
    )


def _box(x: float, y: float, w: float, h: float, fill: str, title: str, lines: list[str]) -> str:
    parts = [
        f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='10' fill='{fill}' "
        f"stroke='{LINE}' stroke-width='1.5'/>",
        _text(x + 14, y + 24, title, 15, weight="bold"),
    ]
    parts += [_text(x + 14, y + 46 + 18 * i, line, 12, fill=MUTED) for i, line in enumerate(lines)]
    return "\n".join(parts)


def _arrow(x1: float, y1: float, x2: float, y2: float, label: str = "", dy: float = -8) -> str:
    line = (
        f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{INK}' stroke-width='1.6' "
        "marker-end='url(#head)'/>"
    )
    if not label:
        return line
    return line + "\n" + _text((x1 + x2) / 2, (y1 + y2) / 2 + dy, label, 12, anchor="middle")


def retention_points(recall_days: tuple[float, ...], steps: int = 240) -> list[tuple[float, float]]:
    """(day, retention) of one memory recalled on ``recall_days``, by the engine's own rules."""
    stability = initial_stability(0.0, 0.0)
    last_used, recalls = 0.0, list(recall_days)
    points = []
    for step in range(steps + 1):
        day = FIRST_DAY * (LAST_DAY / FIRST_DAY) ** (step / steps)
        if recalls and day >= recalls[0]:
            at = recalls.pop(0)
            points.append((at, retrievability(at - last_used, stability)))
            stability = recalled_stability(stability, retrievability(at - last_used, stability))
            last_used = at
            points.append((at, 1.0))
        points.append((day, retrievability(day - last_used, stability)))
    return points


def _retention_panel(x: float, y: float, w: float, h: float) -> str:
    left, top, plot_w, plot_h = x + 44, y + 44, w - 64, h - 84
    decades = math.log10(LAST_DAY / FIRST_DAY)

    def at(day: float, value: float) -> tuple[float, float]:
        return (
            left + plot_w * math.log10(day / FIRST_DAY) / decades,
            top + plot_h * (1.0 - value),
        )

    parts = [
        f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='10' fill='white' "
        f"stroke='{LINE}' stroke-width='1.5'/>",
        _text(x + 14, y + 24, "Retention: fading, and recall", 15, weight="bold"),
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' "
        f"stroke='{MUTED}'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='{MUTED}'/>",
        _text(left - 6, top + 4, "1", 11, anchor="end", fill=MUTED),
        _text(left - 6, top + plot_h + 4, "0", 11, anchor="end", fill=MUTED),
        _text(left - 30, top + plot_h / 2, "R", 13, style="italic"),
    ]
    for day, label in ((1, "1 day"), (7, "1 week"), (30, "1 month"), (365, "1 year")):
        px, _ = at(day, 0.0)
        parts.append(
            f"<line x1='{px:.1f}' y1='{top + plot_h}' x2='{px:.1f}' y2='{top + plot_h + 4}' "
            f"stroke='{MUTED}'/>"
        )
        parts.append(_text(px, top + plot_h + 17, label, 11, anchor="middle", fill=MUTED))
    for recall_days, colour, label, label_day in (
        ((), "#90a4ae", "never recalled", 4.0),
        (RECALL_DAYS, "#1565c0", "recalled after 1 day and 1 week", LAST_DAY),
    ):
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}"
            for i, (px, py) in enumerate(at(d, r) for d, r in retention_points(recall_days))
        )
        parts.append(f"<path d='{path}' fill='none' stroke='{colour}' stroke-width='2.2'/>")
        lx, ly = at(label_day, next(r for d, r in retention_points(recall_days) if d >= label_day))
        parts.append(_text(lx - 4, ly - 7, label, 11, anchor="end", fill=colour))
    _, dormant_y = at(FIRST_DAY, DORMANT_BELOW)
    parts.append(
        f"<line x1='{left}' y1='{dormant_y:.1f}' x2='{left + plot_w}' y2='{dormant_y:.1f}' "
        "stroke='#c62828' stroke-dasharray='5,4'/>"
    )
    parts.append(
        _text(
            left + 6, dormant_y - 5, "below 0.05: dormant (kept, not searched)", 11, fill="#c62828"
        )
    )
    return "\n".join(parts)


def _supersession_panel(x: float, y: float, w: float, h: float) -> str:
    bar_left, bar_right = x + 20, x + w - 20
    mid = bar_left + (bar_right - bar_left) * 0.45
    row1, row2 = y + 56, y + 92
    return "\n".join(
        [
            f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='10' fill='white' "
            f"stroke='{LINE}' stroke-width='1.5'/>",
            _text(x + 14, y + 24, "Supersession: nothing true is lost", 15, weight="bold"),
            f"<rect x='{bar_left}' y='{row1 - 16}' width='{mid - bar_left}' height='24' rx='5' "
            f"fill='#eceff1' stroke='{LINE}'/>",
            _text(bar_left + 8, row1, "residence = Boston  (superseded)", 12, fill=MUTED),
            f"<rect x='{mid}' y='{row2 - 16}' width='{bar_right - mid}' height='24' rx='5' "
            f"fill='{FACT}' stroke='{LINE}'/>",
            _text(mid + 8, row2, "residence = Denver  (current)", 12),
            f"<line x1='{mid}' y1='{row1 - 24}' x2='{mid}' y2='{row2 + 14}' stroke='{INK}' "
            "stroke-dasharray='3,3'/>",
            _text(bar_left, row2 + 26, "May 2023", 11, fill=MUTED),
            _text(
                mid,
                row2 + 26,
                "Sep 2023: a new value closes the old one",
                11,
                anchor="middle",
                fill=MUTED,
            ),
            _text(bar_right, row2 + 26, "now", 11, anchor="end", fill=MUTED),
            _text(
                x + 14, y + h - 34, "search answers with what holds now, as_of= with what held", 12
            ),
            _text(x + 14, y + h - 16, "then, and facts() or history() list every version", 12),
        ]
    )


def svg() -> str:
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}'>",
        "<title>The engramdb memory model: episodes, facts, summaries, retention, "
        "supersession</title>",
        "<defs><marker id='head' markerWidth='10' markerHeight='8' refX='9' refY='4' "
        f"orient='auto'><path d='M0,0 L10,4 L0,8 z' fill='{INK}'/></marker></defs>",
        f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>",
        _text(20, 30, "add / add_many", 14, weight="bold"),
        _text(20, 48, "a turn, an event,", 12, fill=MUTED),
        _text(20, 64, "an observation", 12, fill=MUTED),
        _arrow(130, 80, 180, 80),
        _box(
            185,
            20,
            250,
            150,
            EPISODE,
            "Episodes",
            [
                "every write, verbatim, at once",
                "occurred_at (event) · recorded_at",
                "speaker, session, metadata",
                "embedding + full-text index",
                "stability S, importance, emotion",
            ],
        ),
        _arrow(435, 60, 560, 60, "consolidate"),
        _text(497, 84, "(replay, like sleep)", 11, anchor="middle", fill=MUTED),
        _box(
            565,
            20,
            375,
            100,
            FACT,
            "Facts (semantic memory)",
            [
                "subject · attribute · value, e.g. Maya · residence · Denver",
                "each with a validity interval valid_from → valid_to",
                "derived from episodes, which stay",
            ],
        ),
        _arrow(435, 140, 560, 170),
        _box(
            565,
            135,
            375,
            70,
            SUMMARY,
            "Summaries",
            [
                "one per session: what it was about",
            ],
        ),
        _box(
            20,
            230,
            420,
            72,
            READ,
            "search / context (read)",
            [
                "episodes, facts and summaries ranked by attention;",
                "each hit explained; context() packs a token budget",
            ],
        ),
        _arrow(310, 170, 310, 226),
        _arrow(640, 205, 444, 258),
        _retention_panel(20, 330, 420, 250),
        _supersession_panel(470, 330, 470, 170),
        _text(
            470,
            530,
            "update() works the same way on a memory's text: a new version,",
            12,
            fill=MUTED,
        ),
        _text(470, 548, "the old one closed, never overwritten (history()).", 12, fill=MUTED),
        _text(
            470,
            572,
            "forget_namespace() erases all of it, derived memories included.",
            12,
            fill=MUTED,
        ),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    drawn = svg()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != drawn:
            print(f"{OUT} is out of date: run python scripts/memory_model_diagram.py")
            return 1
        return 0
    OUT.write_text(drawn, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
