"""Learning: what a namespace learns from how its memories are used (docs/learning.md).

Feedback on search hits and the per-namespace ranker weights learned from it
(``learn.feedback``, ``learn.weights``); experiences and concepts taught from a
few examples. Like ``recall``, it sees ``store.base`` only, never a backend.
"""
