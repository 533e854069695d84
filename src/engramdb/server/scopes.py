"""The wire shapes of scopes (docs/scopes.md): a search of several namespaces and a page
of a listing, as the REST API takes them (``server/http/routers/scopes.py``).

Beside ``server/schemas.py``, whose rules and types they use; what a page or a hit
looks like going out is the value's own model there (``PageOut``, ``HitOut``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic.json_schema import SkipJsonSchema

from engramdb.config import Limits
from engramdb.options import LIST, MAX_NAMESPACES, SEARCH
from engramdb.server.schemas import (
    HitOut,
    Integer,
    IsoTime,
    Kind,
    Metadata,
    SearchIn,
    UtcTime,
    optional_where,
)

__all__ = ["ListIn", "NamespaceName", "SearchAcrossIn", "SearchAcrossOut"]

_LIMITS = Limits()


#: A namespace in a body (the path's rule: ``server.http.auth.NamespacePath``).
NamespaceName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", max_length=_LIMITS.max_label_chars)
]


def _one_scope(schema: dict[str, Any]) -> None:
    """A search of several namespaces names them or their prefix: one of the two."""
    schema["oneOf"] = [{"required": ["namespaces"]}, {"required": ["namespace_prefix"]}]


class SearchAcrossIn(SearchIn):
    """``POST /v1/search``: ``Memory.search`` of several namespaces (docs/scopes.md), one
    of ``namespaces`` and ``namespace_prefix`` given."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_scope)

    # None only when absent (the other is given: ``_one_scope``); null is no value here
    namespaces: (
        Annotated[list[NamespaceName], Field(max_length=MAX_NAMESPACES)] | SkipJsonSchema[None]
    ) = Field(default=None, description=SEARCH.help("namespaces"))
    namespace_prefix: NamespaceName | SkipJsonSchema[None] = Field(
        default=None, description=SEARCH.help("namespace_prefix")
    )

    @model_validator(mode="after")
    def _one_scope(self) -> SearchAcrossIn:
        given = {"namespaces", "namespace_prefix"} & self.model_fields_set
        if len(given) != 1 or (self.namespaces is None) == (self.namespace_prefix is None):
            raise ValueError("give namespaces or namespace_prefix (one of them)")
        return self

    def options(self) -> dict[str, Any]:
        """Every option but the query and the scope (the key decides what it reads)."""
        scope = {"namespaces", "namespace_prefix"}
        return {name: value for name, value in super().options().items() if name not in scope}


class SearchAcrossOut(BaseModel):
    query: str
    namespaces: list[str] = Field(description="The namespaces searched: those the key covers.")
    now: UtcTime | None
    hits: list[HitOut]


class ListIn(BaseModel):
    """``Memory.list``'s options (``options.LIST``; docs/scopes.md, "Listing")."""

    model_config = ConfigDict(extra="forbid")

    where: Metadata | None = Field(
        default=None, description=LIST.help("where"), json_schema_extra=optional_where
    )
    occurred_after: IsoTime | None = Field(default=None, description=LIST.help("occurred_after"))
    occurred_before: IsoTime | None = Field(default=None, description=LIST.help("occurred_before"))
    kinds: list[Kind] | None = Field(default=None, min_length=1, description=LIST.help("kinds"))
    order: Literal["occurred_at", "recorded_at"] = Field(
        default="occurred_at", description=LIST.help("order")
    )
    descending: StrictBool = Field(default=False, description=LIST.help("descending"))
    limit: Integer = Field(
        default=100,
        ge=1,
        description=LIST.help("limit"),
        json_schema_extra={"maximum": _LIMITS.max_limit},
    )
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description=LIST.help("cursor"),
    )

    def options(self) -> dict[str, Any]:
        """Every option, as ``Memory.list`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields}
