"""Test support shipped with engramdb, so other backends can check themselves.

``conformance`` holds the shared store checks every backend must pass;
``fakes`` holds stand-ins for what store-level tests do not need to run for
real (the embedding model); ``serve`` starts a real ``engram serve`` and waits
for its URL. Nothing here is used by the library itself.
"""

from engramdb.testing.fakes import HashEmbedder

__all__ = ["HashEmbedder"]
