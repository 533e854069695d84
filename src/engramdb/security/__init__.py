"""Privacy and security (issue 8): erasure checks, PII redaction.

Persistence of the audit log lives in ``engramdb.store.sqlite.audit`` (only
``store/sqlite`` imports sqlite3); encryption at rest is not built yet
(docs/security.md).
"""

from __future__ import annotations

from engramdb.security.erasure import store_files, where_found
from engramdb.security.redact import redact

__all__ = ["redact", "store_files", "where_found"]
