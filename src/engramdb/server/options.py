"""How a server runs: auth, limits, binding. One frozen dataclass, no heavy imports.

``engram serve`` builds it from its options; tests and embedders build it
directly. Documented in ``docs/server.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOOPBACK_HOSTS", "ServerOptions"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """``auth`` off means every request acts as an admin (loopback only, see ``serve``).

    ``rate_per_s`` and ``burst`` size each key's token bucket (``rate_per_s`` 0
    turns limiting off); ``max_body_bytes`` bounds a request body; ``host`` is
    where the server listens, which decides the MCP endpoint's DNS-rebinding
    protection (on for loopback hosts).
    """

    auth: bool = True
    rate_per_s: float = 50.0
    burst: int = 100
    max_body_bytes: int = 8 * 1024 * 1024
    mcp: bool = True
    host: str = "127.0.0.1"
