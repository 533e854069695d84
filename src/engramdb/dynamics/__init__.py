"""Memory dynamics: retention and stability, importance, emotion (docs/dynamics.md).

Pure functions of their inputs and ``now`` (``retention``, ``importance``) and
the emotion appraisal of a text (``emotion``); ``recall`` turns a search's
hits into batched stability updates. Nothing here opens a store.
"""
