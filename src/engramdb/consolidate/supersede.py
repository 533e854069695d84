"""Supersession: each subject / attribute keeps a timeline of values; nothing is lost.

``Ledger`` holds a namespace's facts while one consolidation step plans its
writes. Recording a statement either merges it into the fact that already
says it (a new provenance link), or adds a fact. For an exclusive attribute
(one value at a time: where one lives, one's partner, "number of kids") a new
value closes the validity of the value before it at the change's event time
(status ``superseded``) and ends where the next known value begins, so
statements consolidated out of order still form one timeline. Facts derived
from a fact that gets closed are marked ``stale`` at the same time, and the
facts derived from those, transitively (dependency-aware invalidation).
Nothing is ever deleted; a fact's content never changes, only its
``valid_to`` and ``status``. Pure planning: no store, no embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engramdb.clock import to_iso
from engramdb.consolidate.extract import Extraction, fact_text
from engramdb.model import Fact
from engramdb.store.base import FactChange, FactRow, Link

__all__ = ["Ledger", "WorkingFact", "derived_id", "same_value", "touched"]

_ARTICLE = re.compile(r"^(?:the|a|an|my|our)\s+")
_WORD = re.compile(r"[^\W_]+")


def derived_id(*parts: str) -> str:
    """A deterministic memory id (32 hex digits) for a derived memory.

    The same inputs give the same id, so a consolidation rerun after a crash
    writes exactly what one clean run would have.
    """
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _norm(value: str) -> str:
    return _ARTICLE.sub("", " ".join(_WORD.findall(value.casefold())))


def same_value(a: str, b: str) -> bool:
    """Whether two values say the same thing ("Denver" and "Denver, Colorado" do).

    Equal after normalisation, or one's words a subset of the other's (for
    words, not numbers: "2" and "2 more" are not the same count).
    """
    na, nb = _norm(a), _norm(b)
    if na == nb:
        return True
    wa, wb = set(na.split()), set(nb.split())
    if not wa or not wb or any(w.isdigit() for w in wa | wb):
        return False
    return wa <= wb or wb <= wa


@dataclass(slots=True)
class WorkingFact:
    """A fact while a step is planned: mutable, written back as rows and changes."""

    engram_id: str
    subject: str
    attribute: str
    value: str
    text: str
    valid_from: datetime
    valid_to: datetime | None
    status: str
    superseded_by: str | None = None
    sources: set[str] = field(default_factory=set)
    derived: bool = False
    is_new: bool = False
    changed: bool = False

    @property
    def open(self) -> bool:
        return self.valid_to is None

    def row(self) -> FactRow:
        return FactRow(
            engram_id=self.engram_id,
            subject=self.subject,
            attribute=self.attribute,
            value=self.value,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            status=self.status,
            superseded_by=self.superseded_by,
        )

    def change(self) -> FactChange:
        return FactChange(self.engram_id, self.valid_to, self.status, self.superseded_by)


def _key(subject: str, attribute: str) -> tuple[str, str]:
    return subject.casefold().strip(), attribute.casefold().strip()


def _order(fact: WorkingFact) -> tuple[datetime, str]:
    """A timeline's order: by the start of validity, then id (a total order)."""
    return fact.valid_from, fact.engram_id


def touched(found: Iterable[Extraction]) -> set[tuple[str, str]]:
    """Every subject / attribute whose timeline recording ``found`` may read or change:
    each statement's own, and those of what ``Ledger._derive`` records or reads for
    it (a partner's inverse; residence and employer read each other and write the
    situation). A ``Ledger`` holding these timelines whole, and the facts derived
    from their facts, plans exactly what one holding every fact would."""
    keys: set[tuple[str, str]] = set()
    for statement in found:
        keys.add(_key(statement.subject, statement.attribute))
        attribute = statement.attribute.casefold().strip()
        if attribute == "partner":
            keys.add(_key(statement.value, "partner"))
        elif attribute in {"residence", "employer"}:
            keys.update(_key(statement.subject, a) for a in ("residence", "employer", "situation"))
    return keys


class Ledger:
    """A namespace's facts for one consolidation step, and what the step changes."""

    def __init__(self, namespace: str, facts: Iterable[Fact], fact_ids: Iterable[str] = ()) -> None:
        self.namespace = namespace
        self.by_id: dict[str, WorkingFact] = {}
        self.timelines: dict[tuple[str, str], list[WorkingFact]] = {}
        self.dependents: dict[str, set[str]] = {}
        self.links: list[Link] = []
        self.merged = 0
        self.superseded = 0
        self.stale = 0
        for fact in facts:
            working = WorkingFact(
                engram_id=fact.engram_id,
                subject=fact.subject,
                attribute=fact.attribute,
                value=fact.value,
                text=fact.text,
                valid_from=fact.valid_from,
                valid_to=fact.valid_to,
                status=fact.status,
                superseded_by=fact.superseded_by,
                sources=set(fact.sources),
            )
            self.by_id[working.engram_id] = working
            self.timelines.setdefault(_key(fact.subject, fact.attribute), []).append(working)
        for timeline in self.timelines.values():  # once each, not at every fact: _add
            timeline.sort(key=_order)
        known = set(self.by_id) | set(fact_ids)
        for working in self.by_id.values():
            working.derived = bool(working.sources & known)
            for source in working.sources & known:
                self.dependents.setdefault(source, set()).add(working.engram_id)

    # -- what the step writes ---------------------------------------------------

    @property
    def new_facts(self) -> list[WorkingFact]:
        return [f for f in self.by_id.values() if f.is_new]

    @property
    def rows(self) -> tuple[FactRow, ...]:
        return tuple(f.row() for f in self.new_facts)

    @property
    def changes(self) -> tuple[FactChange, ...]:
        return tuple(f.change() for f in self.by_id.values() if f.changed and not f.is_new)

    def current(self, subject: str, attribute: str, at: datetime) -> WorkingFact | None:
        """The fact of ``subject`` / ``attribute`` that held at ``at``, if any."""
        for fact in reversed(self.timelines.get(_key(subject, attribute), [])):
            if fact.valid_from <= at and (fact.valid_to is None or at < fact.valid_to):
                return fact if fact.status != "stale" or fact.valid_to is not None else None
        return None

    # -- recording ------------------------------------------------------------

    def record(
        self,
        extraction: Extraction,
        source_id: str,
        at: datetime,
        *,
        derived_from: Sequence[str] = (),
        also: Sequence[str] = (),
    ) -> WorkingFact:
        """Record one statement made at event time ``at``; returns the fact that holds it.

        ``source_id`` is the episode it was said in, ``also`` other episodes whose
        words it holds (``attribution``): all are its sources. A fact derived from
        facts has those (``derived_from``) as its sources instead."""
        key = _key(extraction.subject, extraction.attribute)
        timeline = self.timelines.setdefault(key, [])
        sources = list(derived_from) or list(dict.fromkeys([source_id, *also]))
        relation = "derived" if derived_from else "extracted"
        if not derived_from:
            for fact in timeline:  # said again by an episode consolidated again
                if source_id in fact.sources and same_value(fact.value, extraction.value):
                    return self._merge(fact, sources, relation)
        if extraction.exclusive:
            before = [f for f in timeline if f.valid_from <= at]
            after = [f for f in timeline if f.valid_from > at]
            previous = before[-1] if before else None
            following = after[0] if after else None
            if (
                previous is not None
                and previous.open
                and same_value(previous.value, extraction.value)
            ):
                return self._merge(previous, sources, relation)
            if following is not None and same_value(following.value, extraction.value):
                return self._merge(following, sources, relation)
        else:
            for fact in timeline:
                if fact.open and same_value(fact.value, extraction.value):
                    return self._merge(fact, sources, relation)
            previous = following = None
        fact = WorkingFact(
            engram_id=derived_id(
                "fact", self.namespace, *key, _norm(extraction.value), to_iso(at), *sources
            ),
            subject=extraction.subject,
            attribute=extraction.attribute,
            value=extraction.value,
            text=extraction.text,
            valid_from=at,
            valid_to=None,
            status="current",
            sources=set(sources),
            derived=bool(derived_from),
            is_new=True,
        )
        if fact.engram_id in self.by_id:  # the very same statement again
            return self._merge(self.by_id[fact.engram_id], sources, relation)
        if following is not None:  # an older value learned late: it ends where the next begins
            fact.valid_to = following.valid_from
            fact.status = "superseded"
            fact.superseded_by = following.engram_id
        self._add(fact)
        self.links.extend(Link(fact.engram_id, s, relation) for s in sources)
        for source in derived_from:
            self.dependents.setdefault(source, set()).add(fact.engram_id)
        if previous is not None and (previous.valid_to is None or previous.valid_to > at):
            self._close(previous, at, "superseded", fact.engram_id)
            self.superseded += 1
        if fact.status == "current" and not fact.derived:
            self._derive(fact, source_id, at)
        return fact

    def _merge(self, fact: WorkingFact, sources: Sequence[str], relation: str) -> WorkingFact:
        fresh = [s for s in sources if s not in fact.sources]
        fact.sources.update(fresh)
        self.links.extend(Link(fact.engram_id, s, relation) for s in fresh)
        if relation == "derived":
            for source in fresh:
                self.dependents.setdefault(source, set()).add(fact.engram_id)
        self.merged += 1
        return fact

    def _add(self, fact: WorkingFact) -> None:
        self.by_id[fact.engram_id] = fact
        timeline = self.timelines.setdefault(_key(fact.subject, fact.attribute), [])
        timeline.append(fact)
        timeline.sort(key=_order)

    def _close(self, fact: WorkingFact, at: datetime, status: str, by: str | None) -> None:
        fact.valid_to = max(at, fact.valid_from)
        fact.status = status
        fact.superseded_by = by
        fact.changed = True
        self._invalidate_dependents(fact, fact.valid_to)

    def _invalidate_dependents(self, fact: WorkingFact, at: datetime) -> None:
        for dependent_id in sorted(self.dependents.get(fact.engram_id, ())):
            dependent = self.by_id.get(dependent_id)
            if dependent is None or dependent.status == "stale":
                continue
            if dependent.valid_to is not None and dependent.valid_to <= at:
                continue  # it had ended before the change: still true for its time
            self.stale += 1
            self._close(dependent, at, "stale", None)

    # -- derivations: facts that follow from facts (and go stale with them) -----

    def _derive(self, fact: WorkingFact, source_id: str, at: datetime) -> None:
        attribute = fact.attribute.casefold()
        if attribute == "partner" and fact.value.casefold() != fact.subject.casefold():
            inverse = Extraction(
                fact.value, "partner", fact.subject, fact_text(fact.value, "partner", fact.subject)
            )
            self.record(inverse, source_id, at, derived_from=[fact.engram_id])
        elif attribute in {"residence", "employer"}:
            other = "employer" if attribute == "residence" else "residence"
            partner = self.current(fact.subject, other, at)
            if partner is None or partner.status != "current":
                return
            place, work = (fact, partner) if attribute == "residence" else (partner, fact)
            value = f"works at {work.value} and lives in {place.value}"
            situation = Extraction(
                fact.subject, "situation", value, fact_text(fact.subject, "situation", value)
            )
            self.record(
                situation, source_id, at, derived_from=sorted([fact.engram_id, partner.engram_id])
            )
