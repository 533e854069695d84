"""The Model Context Protocol server: ``engram mcp`` (stdio) and ``/mcp`` (streamable HTTP).

Importing this package imports the MCP SDK (~1-3 s): the CLI and the HTTP app
import it only when they serve MCP.
"""

from engramdb.server.mcp.tools import KEY_STATE, build_mcp

__all__ = ["KEY_STATE", "build_mcp"]
