"""``Memory``'s learning methods: feedback on hits, and the namespace's ranker weights.

A mixin ``Memory`` inherits (``memory.py`` stays the facade of the rest): it
validates what comes in, gives each search an id and keeps its trace, and
hands the rest to ``learn.feedback.Learner`` (docs/learning.md). No SQL, no
maths here.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime

from engramdb.clock import Clock
from engramdb.config import Settings
from engramdb.errors import InvalidInputError, NotFoundError
from engramdb.learn.feedback import Learner, Trace
from engramdb.model import Feedback, Hit, NamespaceWeights
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.store import Store
from engramdb.validation import (
    check_id,
    check_namespace,
    check_number,
    check_search_id,
    check_time,
)

__all__ = ["Learning"]

DEFAULT_NAMESPACE = "default"  # Memory's (engramdb.memory imports this module)


class Learning:
    """Feedback, weights and their reset; the searches they name (mixed into ``Memory``)."""

    settings: Settings
    _store: Store
    _clock: Clock
    _learner_made: Learner | None = None
    _learner_lock = threading.Lock()

    def _recall(self) -> Recaller:
        raise NotImplementedError  # Memory's

    @property
    def _learner(self) -> Learner:
        with self._learner_lock:
            if self._learner_made is None:
                self._learner_made = Learner(self._store, self._recall().ranker.weights)
            return self._learner_made

    def _ranked(self, request: SearchRequest) -> list[Hit]:
        """A search's hits, ranked with the namespace's learned weights, each naming the
        search by a new id whose trace this process keeps for feedback."""
        learner = self._learner
        request = replace(request, weights=learner.ranker(request.namespace))
        search_id = uuid.uuid4().hex
        hits = [replace(h, search_id=search_id) for h in self._recall().search(request)]
        if hits:
            learner.searched(request.namespace, Trace.of(search_id, request.query, hits))
        return hits

    def _unlearned(self, namespace: str) -> None:
        """Erasure reaches the traces this process keeps (docs/security.md)."""
        if self._learner_made is not None:
            self._learner_made.forget(namespace)

    def feedback(
        self,
        hit: Hit | str,
        reward: float,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        search_id: str | None = None,
        now: datetime | None = None,
    ) -> Feedback:
        """Judge a hit of a search: ``reward`` in [-1, 1] (useful 1, not useful -1).

        ``hit`` is a ``Hit`` that ``search`` returned, or a memory's id with the
        ``search_id`` of the search that returned it. The judgement is stored with
        the query and the signals of the hits the search showed, and the
        namespace's ranker weights are learned again from its feedback, held
        near the shipped weights; an update that orders the earlier feedback
        worse is refused (docs/learning.md). A search is remembered by the
        process that ran it, for its latest searches.
        """
        namespace = check_namespace(namespace, self.settings.limits)
        value = check_number(reward, "reward", -1.0, 1.0)
        named: str | None
        if isinstance(hit, Hit):
            engram_id, named = hit.engram.id, search_id or hit.search_id
            if not named:
                raise InvalidInputError("this hit names no search: pass search_id")
        elif isinstance(hit, str):
            engram_id, named = check_id(hit), search_id
            if named is None:
                raise InvalidInputError("feedback on a memory id needs the search_id")
        else:
            raise InvalidInputError(f"hit must be a Hit or a memory id, got {type(hit).__name__}")
        at = self._clock.now() if now is None else check_time(now, "now")
        if self._store.get(namespace, engram_id) is None:  # deleted (or erased) since
            raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
        return self._learner.judge(
            namespace,
            check_search_id(named),
            engram_id,
            value,
            at,
            hit if isinstance(hit, Hit) else None,
        )

    def weights(self, *, namespace: str = DEFAULT_NAMESPACE) -> NamespaceWeights:
        """The namespace's ranker weights, each with the prior's and its shift from it."""
        return self._learner.view(check_namespace(namespace, self.settings.limits))

    def reset_weights(self, *, namespace: str = DEFAULT_NAMESPACE) -> NamespaceWeights:
        """Rank with the prior again: the namespace's learned weights and the feedback
        they came from are deleted. Returns the weights now in use (the prior's)."""
        namespace = check_namespace(namespace, self.settings.limits)
        self._learner.reset(namespace)
        return self._learner.view(namespace)
