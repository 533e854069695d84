"""API keys: minting, checking and scoping; the rows live in ``store.sqlite.keyfile``.

A key is shown once, as ``eng_<id>_<secret>``; only a salted SHA-256 of the
secret is kept. A fast hash is enough because the secret is 192 random bits,
not a password: nobody can guess it, so there is nothing for a slow hash to
slow down. Checks compare digests in constant time.

A key's scope is a list of namespace patterns (an exact name, or a prefix
ending in ``*``: ``team-*``; ``*`` alone is every namespace) and an access
level: ``read`` (get, history, search, stats), ``write`` (also add, update,
delete, forget the namespace) or ``admin`` (everything, every namespace, and
the cross-namespace listings). This module does not speak HTTP: the edges turn
a refusal into 401/403.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Literal

from engramdb.clock import SystemClock
from engramdb.errors import AccessDeniedError, InvalidInputError, NotFoundError
from engramdb.store import is_postgres, key_table
from engramdb.store.side import KeyRecord

__all__ = [
    "ACCESS_LEVELS",
    "Access",
    "ApiKey",
    "KeyRing",
    "NewKey",
    "check_pattern",
    "keys_path",
]

Access = Literal["read", "write", "admin"]
ACCESS_LEVELS: tuple[Access, ...] = ("read", "write", "admin")
_RANK = {"read": 0, "write": 1, "admin": 2}
_TOKEN = re.compile(r"eng_([0-9a-f]{12})_([0-9a-f]{48})")
_PATTERN = re.compile(r"\*|[A-Za-z0-9][A-Za-z0-9._:@-]*\*?")
KEYS_FILENAME = "keys.db"


def keys_path(store_path: str) -> str:
    """Where the keys of a store live: ``keys.db`` in its directory, or ``<name>.keys.db``;
    a PostgreSQL store's in its own schema (its URL: docs/scaling.md)."""
    if store_path == ":memory:" or is_postgres(store_path):
        return store_path
    if "://" in store_path:
        raise InvalidInputError(
            f"cannot place a key file beside {store_path!r}; pass the keys path explicitly"
        )
    path = Path(store_path)
    if path.suffix in {".db", ".sqlite", ".sqlite3"} or path.is_file():
        return str(path.with_name(path.stem + ".keys.db"))
    return str(path / KEYS_FILENAME)


def check_pattern(value: str) -> str:
    """A namespace pattern: a namespace, a prefix ending in ``*``, or ``*``."""
    if not isinstance(value, str) or not _PATTERN.fullmatch(value) or len(value) > 129:
        raise InvalidInputError(
            f"namespace pattern {value!r} is malformed: use a namespace (user-42), "
            "a prefix ending in * (team-*), or * for every namespace"
        )
    return value


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as the server sees it (never its secret)."""

    id: str
    name: str
    namespaces: tuple[str, ...]
    access: Access
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.access == "admin"

    def covers(self, namespace: str) -> bool:
        """Whether the namespace is inside this key's scope (at any access level)."""
        if self.is_admin:
            return True
        for pattern in self.namespaces:
            if pattern.endswith("*"):
                if namespace.startswith(pattern[:-1]):
                    return True
            elif namespace == pattern:
                return True
        return False

    def allows(self, namespace: str, need: Literal["read", "write"]) -> bool:
        """Whether this key may ``need`` (read or write) in ``namespace``."""
        return _RANK[self.access] >= _RANK[need] and self.covers(namespace)

    def scope(
        self,
        namespaces: Sequence[str] | None,
        prefix: str | None,
        held: Callable[[], Sequence[str]],
    ) -> list[str]:
        """What a search of several namespaces reads under this key (docs/scopes.md), sorted:
        each of ``namespaces``, every one of which it must cover (``AccessDeniedError`` names
        the first it does not), or those of ``held()`` (the store's) under ``prefix``
        that it covers: a prefix wider than the key reads only what the key covers."""
        if namespaces is not None:
            for namespace in namespaces:
                if not self.allows(namespace, "read"):
                    scope = ", ".join(self.namespaces) or "no namespace"
                    raise AccessDeniedError(
                        f"API key {self.id} ({self.access} on {scope}) may not read "
                        f"namespace {namespace!r}"
                    )
            return sorted(set(namespaces))
        under = prefix or ""
        return [n for n in held() if n.startswith(under) and self.allows(n, "read")]

    @property
    def home(self) -> str | None:
        """The one namespace this key is for, when its scope is exactly one name."""
        if len(self.namespaces) == 1 and not self.namespaces[0].endswith("*"):
            return self.namespaces[0]
        return None


#: The identity of every request when a server runs with ``--no-auth``.
LOCAL_ADMIN = ApiKey(
    id="local",
    name="no-auth",
    namespaces=("*",),
    access="admin",
    created_at=datetime(1970, 1, 1, tzinfo=timezone.utc),
)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly minted key and its token: the only time the token is shown."""

    key: ApiKey
    token: str


class KeyRing:
    """The API keys of one server: create, verify, list, revoke."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._store = key_table(self.path)

    def __enter__(self) -> KeyRing:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    def create(
        self,
        *,
        name: str,
        namespaces: tuple[str, ...] | list[str],
        access: Access,
        now: datetime | None = None,
    ) -> NewKey:
        if access not in ACCESS_LEVELS:
            raise InvalidInputError(f"access must be one of {', '.join(ACCESS_LEVELS)}")
        patterns = tuple(check_pattern(p) for p in namespaces)
        if access == "admin":
            patterns = patterns or ("*",)
        elif not patterns:
            raise InvalidInputError("a read or write key needs at least one namespace pattern")
        name = name.strip()
        if not name or len(name) > 128 or not name.isprintable():
            raise InvalidInputError("a key name must be 1 to 128 printable characters")
        key_id = secrets.token_hex(6)
        secret = secrets.token_hex(24)
        salt = secrets.token_bytes(16)
        at = now or SystemClock().now()
        record = KeyRecord(
            id=key_id,
            name=name,
            salt=salt,
            digest=_digest(salt, secret),
            namespaces=patterns,
            access=access,
            created_at=at,
        )
        self._store.insert(record)
        return NewKey(key=_key(record), token=f"eng_{key_id}_{secret}")

    def problems(self) -> list[str]:
        """What is wrong with the key file, each naming it (``engram check``)."""
        return self._store.problems()

    def verify(self, token: str) -> ApiKey | None:
        """The live key a token belongs to, or None (malformed, unknown, revoked, wrong)."""
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        record = self._store.get(key_id)
        if record is None:
            return None
        if not hmac.compare_digest(record.digest, _digest(record.salt, secret)):
            return None
        if record.revoked_at is not None:
            return None
        return _key(record)

    def list(self) -> list[ApiKey]:
        return [_key(record) for record in self._store.all()]

    def has_live_keys(self) -> bool:
        return any(key.revoked_at is None for key in self.list())

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        if not self._store.revoke(key_id, now or SystemClock().now()):
            raise NotFoundError(f"no API key {key_id!r}")
        record = self._store.get(key_id)
        assert record is not None
        return _key(record)


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


def _key(record: KeyRecord) -> ApiKey:
    access: Access = (
        "admin" if record.access == "admin" else ("write" if record.access == "write" else "read")
    )
    return ApiKey(
        id=record.id,
        name=record.name,
        namespaces=record.namespaces,
        access=access,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )
