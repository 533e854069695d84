"""Readers for the file formats ``engram import`` understands.

engramdb's own JSONL and LoCoMo (``locomo``), and the files of other tools
(docs/integrations/importers.md): mem0's ``get_all`` export and history
database (``mem0``), the MCP reference memory server's knowledge graph
(``mcp_memory``), chat transcripts as OpenAI-style message lists (``chat``),
and any CSV or JSONL table with a column mapping (``table``). Each reads a
whole file into a ``Reading`` (items for ``Memory.add_many`` per namespace,
and what it skipped, with why) and writes nothing.
"""
