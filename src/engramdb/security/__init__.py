"""Privacy and security (docs/security.md): erasure checks, PII redaction.

Persistence of the audit log lives in ``engramdb.store.sqlite.audit`` (only
``store/sqlite`` imports sqlite3); encryption at rest in ``security.crypto``,
imported where a store seals (not here, so that this package stays cheap).
"""

from __future__ import annotations

from engramdb.security.erasure import store_files, where_found
from engramdb.security.redact import redact

__all__ = ["redact", "store_files", "where_found"]
