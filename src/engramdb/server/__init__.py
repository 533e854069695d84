"""engramdb as a service: the REST API (``http``) and the MCP server (``mcp``).

Importing this package costs nothing: FastAPI, pydantic and the MCP SDK are
imported by the submodules that need them (``pip install engramdb[server]``).
``errors`` holds the one table of error codes that the HTTP API, the MCP tools
and ``engramdb.Client`` share; ``ratelimit`` is the per-key token bucket. API
keys and the audit log are not here: the CLI uses them too, so they live in
``engramdb.security`` (``keys``, ``audit``).
"""
