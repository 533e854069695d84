"""How memories leave: ``delete``, ``delete_where`` and ``forget_namespace``
(docs/security.md, "Erasure" and "Delete by filter").

``Lifecycle`` is a part of the ``Memory`` facade (``Memory`` inherits it): it
validates, asks the store to erase in one transaction, and drops what this
process still holds of what went (recall's analysed documents, cached
embeddings). What the store erases and how it scrubs its files is the store's
(``Store.delete_many``); what an erasure takes along is ``store.derivation.taken_along_all``.
It does not audit: the edges do (``security.audit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engramdb.config import Settings
from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError
from engramdb.filters import Filter
from engramdb.model import Deletion
from engramdb.recall.engine import Recaller
from engramdb.store import Store
from engramdb.validation import check_filter, check_flag, check_id, check_kinds, check_namespace

__all__ = ["Lifecycle"]

DEFAULT_NAMESPACE = "default"


class Lifecycle:
    """The erasing methods of ``Memory``; the attributes below are ``Memory``'s."""

    settings: Settings
    _store: Store
    _recaller: Recaller | None
    _embedder: Embedder | None
    _keeper: DynamicsKeeper | None

    if TYPE_CHECKING:

        def _unlearned(self, namespace: str) -> None: ...  # Learning's (engramdb.learning)
        def _forget_concepts(self, namespace: str) -> None: ...  # Lessons' (engramdb.lessons)

    def delete(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Remove a memory with its whole history, index entries and derived memories."""
        namespace = check_namespace(namespace, self.settings.limits)
        self._store.delete(namespace, check_id(id))
        self._forget_in_process(namespace)

    def delete_where(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        where: Mapping[str, Any] | None = None,
        kinds: str | Iterable[str] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        dry_run: bool = False,
    ) -> Deletion:
        """Delete every memory of the namespace that passes the filter, as ``delete``
        deletes one: with its history, index entries and the derived memories it takes
        along, in one transaction. ``where``, ``occurred_after`` and
        ``occurred_before`` as ``search``'s (docs/filters.md); ``kinds`` keeps to
        those kinds (default: every kind). At least one condition is required: an
        empty filter is ``InvalidInputError`` (``forget_namespace`` erases a whole
        namespace). ``dry_run=True`` reports what would go and changes nothing.
        """
        namespace = check_namespace(namespace, self.settings.limits)
        chosen = check_filter(where, occurred_after, occurred_before)
        only = check_kinds(kinds)
        dry_run = check_flag(dry_run, "dry_run")
        if chosen is None and only is None:
            raise InvalidInputError(
                "delete_where needs at least one condition (where, kinds, occurred_after or "
                "occurred_before); to erase a whole namespace, use forget_namespace"
            )
        matched = self._matching(namespace, chosen, only)
        gone = self._store.delete_many(namespace, matched, dry_run=dry_run)
        if gone and not dry_run:
            self._forget_in_process(namespace)
        wanted = set(matched)
        return Deletion(
            namespace,
            ids=tuple(i for i in gone if i in wanted),
            derived=tuple(i for i in gone if i not in wanted),
            dry_run=dry_run,
        )

    def _matching(
        self, namespace: str, where: Filter | None, kinds: frozenset[str] | None
    ) -> list[str]:
        """The memories of the namespace that pass ``where`` and are of ``kinds``, in the
        order they were written (the store's filter: blind tokens when it is sealed)."""
        if where is None:
            wanted = kinds or frozenset()
            return [e.id for e in self._store.iter_engrams(namespace) if e.kind in wanted]
        found = self._store.matching(namespace, where)
        if kinds is None or not found:
            return found
        read = self._store.get_many(namespace, found)
        return [i for i in found if i in read and read[i].kind in kinds]

    def forget_namespace(self, namespace: str) -> int:
        """Erase a namespace entirely; returns how many memories it held."""
        namespace = check_namespace(namespace, self.settings.limits)
        count = self._store.forget_namespace(namespace)
        if self._keeper is not None:
            self._keeper.discard(namespace)
        self._forget_in_process(namespace)
        return count

    def _forget_in_process(self, namespace: str) -> None:
        """Erasure reaches this process's caches too (docs/security.md): the namespace's analysed
        documents, and every cached embedding (keyed by a hash of the text, but a
        vector still says roughly what was erased). Both are rebuilt on demand."""
        if self._recaller is not None:
            self._recaller.forget(namespace)
        self._unlearned(namespace)
        self._forget_concepts(namespace)
        clear = getattr(self._embedder, "clear", None)
        if callable(clear):
            clear()
