"""The REST API's models for learning: experiences and concepts (docs/learning.md).

Beside ``schemas`` (which holds every other model) so that neither grows past
a reader's patience; the same rules: request models forbid unknown fields,
help texts come from ``engramdb.options``, response models are built from
``engramdb.wire``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import BaseModel, Field, StrictBool

from engramdb.lessons import MAX_EXAMPLES
from engramdb.model import Concept, Experience, ExperienceHit
from engramdb.options import RECALL_EXPERIENCES, RECORD_EXPERIENCE
from engramdb.server.schemas import (
    _LIMITS,
    _TEXT_RULE,
    LABEL_RULE,
    Integer,
    IsoTime,
    Number,
    UtcTime,
    ValueOut,
    WriteTime,
    _In,
    _value_model,
)

__all__ = [
    "ConceptOut",
    "ConceptsOut",
    "ExperienceHitOut",
    "ExperienceIn",
    "ExperienceOut",
    "RecallExperiencesIn",
    "RecallExperiencesOut",
    "TeachIn",
]

if TYPE_CHECKING:  # built at run time; mypy sees each as the ValueOut it is
    ExperienceOut: TypeAlias = ValueOut
    ExperienceHitOut: TypeAlias = ValueOut
    ConceptOut: TypeAlias = ValueOut
else:
    ExperienceOut = _value_model(
        Experience, "ExperienceOut", "What was done in a situation and how it turned out."
    )
    ExperienceHitOut = _value_model(ExperienceHit, "ExperienceHitOut")
    ConceptOut = _value_model(Concept, "ConceptOut", "A concept taught from examples.")


class ExperienceIn(_In):
    """``Memory.record_experience``'s arguments (``options.RECORD_EXPERIENCE``)."""

    situation: str = Field(
        min_length=1,
        description="The situation the action was taken in.",
        json_schema_extra=_TEXT_RULE,
    )
    action: str = Field(min_length=1, description="What was done.", json_schema_extra=_TEXT_RULE)
    outcome: str = Field(default="", description="What happened, in words.")
    reward: Number = Field(ge=-1, le=1, description="How well it worked: -1 (failed) to 1.")
    occurred_at: WriteTime | None = Field(
        default=None, description=RECORD_EXPERIENCE.help("occurred_at")
    )


class RecallExperiencesIn(_In):
    """``Memory.recall_experiences``'s arguments (``options.RECALL_EXPERIENCES``)."""

    situation: str = Field(min_length=1, json_schema_extra=_TEXT_RULE)
    limit: Integer = Field(
        default=5,
        ge=1,
        description=RECALL_EXPERIENCES.help("limit"),
        json_schema_extra={"maximum": _LIMITS.max_limit},
    )
    now: IsoTime | None = Field(default=None, description=RECALL_EXPERIENCES.help("now"))
    reinforce: StrictBool = Field(default=True, description=RECALL_EXPERIENCES.help("reinforce"))

    def options(self) -> dict[str, Any]:
        """Every argument but the situation, as keyword arguments."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if name != "situation"
        }


class RecallExperiencesOut(BaseModel):
    situation: str
    namespace: str
    now: UtcTime | None
    experiences: list[ExperienceHitOut]


class TeachIn(_In):
    """``Memory.teach``'s arguments."""

    concept: str = Field(
        min_length=1, description="The concept's name.", json_schema_extra=LABEL_RULE
    )
    examples: list[Annotated[str, Field(min_length=1, json_schema_extra=_TEXT_RULE)]] = Field(
        min_length=1,
        max_length=MAX_EXAMPLES,
        description="Texts that are examples of it: one is enough, more refine it.",
    )


class ConceptsOut(BaseModel):
    namespace: str
    concepts: list[ConceptOut]
