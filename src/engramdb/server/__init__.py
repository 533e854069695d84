"""engramdb as a service: the REST API (``http``), the MCP server (``mcp``), API keys.

Importing this package costs nothing: FastAPI, pydantic and the MCP SDK are
imported by the submodules that need them (``pip install engramdb[server]``).
``errors`` holds the one table of error codes that the HTTP API, the MCP tools
and ``engramdb.Client`` share; ``keys`` mints and checks API keys;
``ratelimit`` is the per-key token bucket.
"""
