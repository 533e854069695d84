"""The ``engram`` command line: the app, its commands, and ``main()``.

This module only assembles: the global options live in ``state``, the exit
codes in ``errors``, the output shapes in ``output``, and each command family
in its own module (``memories``, ``profile``, ``transfer``, ``admin``, ``demo``, ``keys``,
``learning``, ``serve``). Every command is documented in ``docs/cli.md`` (a test checks it).
"""

from __future__ import annotations

import typer

from engramdb.cli import (
    admin,
    consolidate,
    context,
    curve,
    demo,
    expiry,
    keys,
    learning,
    lessons,
    memories,
    profile,
    serve,
    transfer,
)
from engramdb.cli.errors import EngramGroup
from engramdb.cli.state import root_options

__all__ = ["app", "main"]

app = typer.Typer(
    name="engram",
    cls=EngramGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold memories' text
    help="engram: a local memory engine for AI agents.",
)
app.callback()(root_options)

app.command("add")(memories.add)
app.command("search")(memories.search)
app.command("list")(memories.list_)
app.command("get")(memories.get)
app.command("update")(memories.update)
app.command("delete")(memories.delete)
app.command("history")(memories.history)
app.command("curve")(curve.curve)
app.command("context")(context.context)
app.command("working")(context.working)
app.command("mood")(context.mood)
app.command("import")(transfer.import_)
app.command("export")(transfer.export)
app.command("namespaces")(admin.namespaces)
app.command("stats")(admin.stats)
app.command("budget")(admin.budget)
app.command("fade")(admin.fade)
app.command("reindex")(admin.reindex)
app.command("check")(admin.check)
app.command("consolidate")(consolidate.consolidate)
app.command("facts")(consolidate.facts)
app.command("feedback")(learning.feedback)
app.command("weights")(learning.weights)
app.command("reset-weights")(learning.reset_weights)
app.command("record-experience")(lessons.record_experience)
app.command("recall-experiences")(lessons.recall_experiences)
app.command("teach")(lessons.teach)
app.command("concepts")(lessons.concepts)
app.command("retag")(lessons.retag)
app.command("pin")(profile.pin)
app.command("unpin")(profile.unpin)
app.command("profile")(profile.profile)
app.command("profile-proposals")(profile.profile_proposals)
app.command("backup")(admin.backup)
app.command("restore")(admin.restore)
app.command("delete-where")(admin.delete_where)
app.command("purge")(expiry.purge)
app.command("ttl")(expiry.ttl)
app.command("expire")(expiry.expire)
app.command("forget-namespace")(admin.forget_namespace)
app.command("verify-erasure")(admin.verify_erasure)
app.command("audit")(admin.audit_log)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("mcp")(serve.mcp)
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Entry point of the ``engram`` console script and ``python -m engramdb``."""
    app(prog_name="engram")
