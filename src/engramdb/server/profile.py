"""The REST API's models for the pinned profile (docs/profile.md).

Beside ``schemas`` (which holds most other models) so that neither grows past
a reader's patience; the same rules: request models forbid unknown fields,
help texts come from ``engramdb.options``, response models are built from
``engramdb.wire``. Used by the HTTP router and the MCP tools alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from pydantic import BaseModel, Field

from engramdb.model import ProfileEntry, ProfileProposal
from engramdb.options import PIN
from engramdb.pinned import MAX_TEXT_CHARS
from engramdb.server.schemas import UtcTime, ValueOut, _In, _value_model

__all__ = ["PinIn", "ProfileEntryOut", "ProfileOut", "ProfileProposalOut", "ProposalsOut"]

if TYPE_CHECKING:  # built at run time; mypy sees each as the ValueOut it is
    ProfileEntryOut: TypeAlias = ValueOut
    ProfileProposalOut: TypeAlias = ValueOut
else:
    ProfileEntryOut = _value_model(
        ProfileEntry,
        "ProfileEntryOut",
        "One version of a pinned profile entry (``engramdb.ProfileEntry``, docs/profile.md).",
    )
    ProfileProposalOut = _value_model(
        ProfileProposal,
        "ProfileProposalOut",
        "A profile entry proposed from a stable fact (``engramdb.ProfileProposal``).",
    )


class PinIn(_In):
    """``Memory.pin``'s text and options (``options.PIN``); the key is the path's."""

    text: str = Field(
        description=f"What the entry says (at most {MAX_TEXT_CHARS} characters).",
        # documented; the library refuses longer (413), and blank or NUL-holding text (422)
        json_schema_extra={"maxLength": MAX_TEXT_CHARS, "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"},
    )
    source_id: str | None = Field(
        default=None, description=PIN.help("source_id"), pattern="^[0-9a-f]{32}$"
    )


class ProfileOut(BaseModel):
    namespace: str
    as_of: UtcTime | None
    history: bool
    entries: list[ProfileEntryOut]


class ProposalsOut(BaseModel):
    namespace: str
    proposals: list[ProfileProposalOut]
