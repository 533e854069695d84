"""Token counting for context budgets: the embedding model's own WordPiece tokenizer.

``mem.context`` fits a prompt into ``budget_tokens`` (docs/context.md). Counting needs
a real tokenizer that ships offline; the packaged embedding model's
``tokenizer.json`` (pinned by sha256 in ``embed.minilm.TOKENIZER``) is one.
It is not the tokenizer of whatever LLM reads the prompt: WordPiece counts run
close to BPE counts for English prose (within ~10-20%), so budgets are a good
estimate, not an exact fit for another model (docs/context.md). Counts leave
out the special tokens and are never truncated, and they add up across
whitespace: ``count(a + "\\n" + b) == count(a) + count(b)``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from engramdb.embed.minilm import TOKENIZER
from engramdb.errors import EmbeddingError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["TokenCounter", "default_counter"]


class TokenCounter:
    """Counts the tokens of texts; thread-safe, loads the tokenizer on first use."""

    def __init__(self) -> None:
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                try:
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise EmbeddingError(
                        "the 'tokenizers' package is missing; install it with: "
                        "pip install tokenizers"
                    ) from exc
                tokenizer = Tokenizer.from_file(str(TOKENIZER.resolve(None)))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def count(self, text: str) -> int:
        """How many tokens ``text`` is (no special tokens, no truncation)."""
        if not text:
            return 0
        return len(self._load().encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._load().encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encoded]


@lru_cache(maxsize=1)
def default_counter() -> TokenCounter:
    """The process-wide counter (the tokenizer is loaded once)."""
    return TokenCounter()
