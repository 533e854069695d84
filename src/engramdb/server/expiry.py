"""The REST API's models for expiry (docs/expiry.md): a memory's expiry, a namespace's
default TTL and what a purge erased.

Beside ``schemas`` (which holds most other models, ``add``'s ``expires_at`` among
them) so that neither grows past a reader's patience; the same rules: request
models forbid unknown fields, help texts come from ``engramdb.options``, response
models are built from ``engramdb.wire``. Used by the HTTP router and the MCP tools.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictFloat

from engramdb.server.schemas import DeletionOut, IsoTime, _In
from engramdb.validation import MAX_WINDOW

__all__ = ["ExpiryIn", "PurgeOut", "TtlIn", "TtlOut"]

#: The most a TTL may be, in seconds (``validation.check_ttl``).
MAX_TTL_S = MAX_WINDOW.total_seconds()


class ExpiryIn(_In):
    """``Memory.set_expiry``'s time: when the memory expires, or null (never)."""

    expires_at: IsoTime | None = Field(
        description="When the memory expires, ISO 8601 with a timezone, after now; null: "
        "never (no new version is written).",
    )


class TtlIn(_In):
    """``Memory.set_ttl``'s time to live; null (or absent) removes it."""

    ttl_s: StrictFloat | None = Field(
        default=None,
        ge=1,
        le=MAX_TTL_S,
        description="The namespace's default time to live in seconds: a memory added "
        "without its own expires_at expires this long after it was recorded (null: none).",
    )


class TtlOut(BaseModel):
    namespace: str
    ttl_s: float | None = Field(description="The default time to live in seconds; null: none.")


class PurgeOut(BaseModel):
    deletions: list[DeletionOut] = Field(
        description="What each namespace that had expired memories erased."
    )
