"""``engram curve``: plot one memory's forgetting curve to a PNG file.

It asks the facade for the curve (``Memory.curve``) and draws it with
matplotlib, which is an optional extra (``pip install 'engramdb[plot]'``) and
imported only here, when the command runs: first, so that without it the
command exits 1 with one line naming the extra before it opens the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engramdb.cli.output import emit_json, iso
from engramdb.cli.state import NamespaceOption, state
from engramdb.extras import needs_extra
from engramdb.store.files import private_file

__all__ = ["curve"]


def curve(
    ctx: typer.Context,
    engram_id: Annotated[
        str, typer.Argument(metavar="ID", help="The memory's id.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="The PNG file to write.", show_default=False)],
    namespace: NamespaceOption = None,
    days: Annotated[
        float, typer.Option("--days", help="How many days after its last use to plot.")
    ] = 365.0,
) -> None:
    """Plot a memory's retention R over time (from its last use) to a PNG file."""
    with needs_extra("plot", "engram curve"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        engram = mem.get(engram_id, namespace=ns)
        times, values = mem.curve(engram_id, namespace=ns, days=days)
    start = times[0]
    x = [(t - start).total_seconds() / 86_400 for t in times]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(x, values, color="tab:blue")
    ax.axhline(0.9, color="grey", lw=0.8, ls=":")
    ax.axvline(engram.stability_days, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(f"days since last use ({iso(start)})")
    ax.set_ylabel("retention R")
    ax.set_ylim(0, 1.02)
    label = engram.text if len(engram.text) <= 60 else engram.text[:57] + "..."
    ax.set_title(
        f"{label}\nS {engram.stability_days:.1f} d, importance {engram.importance:.2f}, "
        f"{engram.emotion}, {engram.recalls} recalls",
        fontsize=9,
    )
    fig.tight_layout()
    private_file(out)  # the title quotes the memory: owner-only (docs/security.md)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    if cli.json:
        emit_json({"id": engram_id, "namespace": ns, "out": str(out), "points": len(values)})
    else:
        typer.echo(f"wrote {out}")
