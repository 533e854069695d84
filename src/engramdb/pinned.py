"""The pinned profile (core memory): a few short entries an agent always sees.

``ProfileMixin`` gives ``Memory`` its ``pin``, ``unpin``, ``profile`` and
``profile_proposals`` (docs/profile.md): it validates keys and texts, holds the
profile to its documented limits (``MAX_ENTRIES`` entries of at most
``MAX_TEXT_CHARS`` characters, ``MAX_TOKENS`` tokens together as ``context``
shows them), and reads consolidation's facts for proposals. The versions
themselves (nothing overwritten: a new pin supersedes, an unpin closes) are
the store's (``Store.pin``, ``store.pinning.next_pin``); how ``context`` places the
profile first is ``recall.prompt``'s. No SQL here.
"""

from __future__ import annotations

import re
from datetime import datetime

from engramdb.clock import Clock
from engramdb.config import Settings
from engramdb.errors import InvalidInputError, LimitExceededError, NotFoundError
from engramdb.model import ProfileEntry, ProfileProposal
from engramdb.recall.prompt import profile_items
from engramdb.recall.tokens import default_counter
from engramdb.store import Store
from engramdb.validation import (
    MAX_KEY_CHARS,
    check_flag,
    check_id,
    check_key,
    check_namespace,
    check_string,
    check_time,
)

__all__ = [
    "MAX_ENTRIES",
    "MAX_TEXT_CHARS",
    "MAX_TOKENS",
    "MIN_STATEMENTS",
    "ProfileMixin",
    "proposal_key",
]

#: The limits of a namespace's profile (docs/profile.md, "Limits"). Every entry is in
#: every ``context``: together they take at most half of ``context``'s default budget
#: of 1,000 tokens, so recall keeps the other half.
MAX_ENTRIES = 32
MAX_TEXT_CHARS = 500
MAX_TOKENS = 500
#: A fact is stable enough to propose when this many episodes stated it.
MIN_STATEMENTS = 2

_NOT_IN_A_KEY = re.compile(r"[^a-z0-9_.-]+")


def _check_entry_text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"text must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidInputError("text must not be empty")
    if len(value) > MAX_TEXT_CHARS:
        raise LimitExceededError(
            f"text is {len(value)} characters; a profile entry's limit is {MAX_TEXT_CHARS}"
        )
    return check_string(value, "text")


def _admit(entries: list[ProfileEntry]) -> None:
    """Refuse a profile over its limits (called by the store inside the pin's transaction)."""
    if len(entries) > MAX_ENTRIES:
        raise LimitExceededError(
            f"the profile would hold {len(entries)} entries; the limit is {MAX_ENTRIES} "
            "(unpin one first)"
        )
    tokens = sum(item.tokens for item in profile_items(entries, default_counter().count))
    if tokens > MAX_TOKENS:
        raise LimitExceededError(
            f"the profile would take {tokens} tokens in a context; the limit is {MAX_TOKENS}"
        )


def proposal_key(subject: str, attribute: str) -> str:
    """The key a fact is proposed under: ``maya.residence`` for Maya's residence."""
    slug = _NOT_IN_A_KEY.sub("_", f"{subject}.{attribute}".lower()).strip("_.-")
    return slug[:MAX_KEY_CHARS] or "fact"


class ProfileMixin:
    """``Memory``'s pinned profile (docs/profile.md)."""

    settings: Settings
    _clock: Clock
    _store: Store

    def pin(
        self,
        key: str,
        text: str,
        *,
        namespace: str = "default",
        source_id: str | None = None,
    ) -> ProfileEntry:
        """Pin ``text`` under ``key``: ``context`` shows it first from now on.

        A key pinned already gets a new version and the old one's validity
        closes (``profile(history=True)`` keeps it); the same text again
        changes nothing. ``source_id`` is the fact a proposal came from
        (``profile_proposals``). Over the limits (docs/profile.md):
        ``LimitExceededError``, nothing written.
        """
        namespace = check_namespace(namespace, self.settings.limits)
        key = check_key(key)
        text = _check_entry_text(text)
        if source_id is not None:
            source_id = check_id(source_id)
            fact = self._store.get(namespace, source_id)
            if fact is None or fact.kind != "fact":
                raise NotFoundError(f"no fact {source_id!r} in namespace {namespace!r}")
        now = self._clock.now()
        return self._store.pin(namespace, key, text, source_id, now, _admit)

    def unpin(self, key: str, *, namespace: str = "default") -> ProfileEntry:
        """Stop showing ``key``: its current version's validity closes now (kept in
        ``profile(history=True)``); returns it. ``NotFoundError`` when not pinned."""
        namespace = check_namespace(namespace, self.settings.limits)
        key = check_key(key)
        closed = self._store.unpin(namespace, key, self._clock.now())
        if closed is None:
            raise NotFoundError(f"no profile entry {key!r} pinned in namespace {namespace!r}")
        return closed

    def profile(
        self,
        *,
        namespace: str = "default",
        as_of: datetime | None = None,
        history: bool = False,
    ) -> list[ProfileEntry]:
        """The namespace's pinned entries, by key: those pinned now, those pinned at
        ``as_of`` (record time), or with ``history`` every version, oldest first per key."""
        namespace = check_namespace(namespace, self.settings.limits)
        history = check_flag(history, "history")
        if history and as_of is not None:
            raise InvalidInputError("as_of and history do not go together: pass one")
        entries = self._store.profile(namespace)
        if history:
            return entries
        if as_of is None:
            return [e for e in entries if e.valid_to is None]
        when = check_time(as_of, "as_of")
        return [e for e in entries if e.held_at(when)]

    def profile_proposals(self, *, namespace: str = "default") -> list[ProfileProposal]:
        """Entries consolidation proposes from stable facts (current, stated by at least
        ``MIN_STATEMENTS`` episodes), by key; nothing is pinned until one is accepted
        with ``pin(p.key, p.text, source_id=p.fact_id)``. A fact whose text is pinned
        under its key already is left out; one whose key holds other text is proposed
        with ``pinned`` set (accepting supersedes it: docs/profile.md)."""
        namespace = check_namespace(namespace, self.settings.limits)
        facts = self._store.facts(namespace, subject=None, attribute=None)
        fact_ids = {f.engram_id for f in facts}
        pinned = {e.key: e.text for e in self._store.profile(namespace) if e.valid_to is None}
        proposals: dict[str, ProfileProposal] = {}
        for fact in sorted(facts, key=lambda f: f.valid_from):  # the latest fact of a key wins
            stated = [s for s in fact.sources if s not in fact_ids]
            if fact.status != "current" or fact.valid_to is not None:
                continue
            if len(stated) < MIN_STATEMENTS or len(fact.text) > MAX_TEXT_CHARS:
                continue
            key = proposal_key(fact.subject, fact.attribute)
            if pinned.get(key) == fact.text:
                proposals.pop(key, None)
                continue
            proposals[key] = ProfileProposal(key, fact.text, fact.engram_id, pinned.get(key))
        return [proposals[k] for k in sorted(proposals)]
