"""Learning: what a namespace learns from how its memories are used (docs/learning.md).

Feedback on search hits and the per-namespace ranker weights learned from it
(``learn.feedback``, ``learn.weights``); experiences (``learn.experience``:
procedural memory, recalled by similarity and reward) and concepts taught from a
few examples (``learn.concepts``: prototypes and membership). Like ``recall``, it
sees ``store.base`` only, never a backend.
"""
