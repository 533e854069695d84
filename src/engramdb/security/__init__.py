"""Privacy and security (docs/security.md): erasure checks, PII redaction.

The submodules are imported where they are needed (not here, so that this
package stays cheap): ``keys`` (API keys) and ``audit`` (the audit log's place
and vocabulary), shared by the CLI and the server; ``crypto`` (encryption at
rest), imported where a store seals. The key and audit files' rows live in
``engramdb.store.sqlite`` (only ``store/sqlite`` imports sqlite3). Nothing here
imports ``engramdb.server`` or ``engramdb.cli``.
"""

from __future__ import annotations

from engramdb.security.erasure import store_files, where_found
from engramdb.security.redact import redact

__all__ = ["redact", "store_files", "where_found"]
