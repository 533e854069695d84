"""NumpyMiniLMEmbedder: the fp32 reference, and the int8 model's agreement with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engramdb.embed import Embedder, MiniLMEmbedder, NumpyMiniLMEmbedder
from engramdb.embed.minilm import SAFETENSORS_FP32
from engramdb.errors import ModelIntegrityError

SENTENCES = [
    "Caroline went to the LGBTQ support group yesterday.",
    "Melanie is planning to go camping in June.",
    "What's the weather like in Paris?",
    "I adopted a rescue cat named Oliver last spring.",
    "The meeting moved to Thursday at 3pm.",
    "",
    "🎉 party time!!!",
]

_PEOPLE = ["Caroline", "Melanie", "Jon", "Gina", "Tim", "Audrey"]
_ACTS = [
    "went hiking in the mountains",
    "painted a portrait of her grandmother",
    "started a new job at a bakery",
    "adopted a puppy from the shelter",
    "ran a charity race for cancer research",
    "read a novel about time travel",
    "cooked lasagna for the whole family",
    "lost her keys at the train station",
    "signed up for a pottery class",
    "visited an aquarium with the kids",
]
_WHEN = ["last weekend", "on Tuesday morning"]
NEIGHBOUR_SET = [f"{p} {a} {w}." for p in _PEOPLE for a in _ACTS for w in _WHEN]  # 120


def test_satisfies_embedder_protocol(minilm_fp32: NumpyMiniLMEmbedder) -> None:
    assert isinstance(minilm_fp32, Embedder)
    assert minilm_fp32.model_id == "all-MiniLM-L6-v2/fp32-numpy"
    assert minilm_fp32.dims == 384


def test_vectors_are_unit_float32_rows(minilm_fp32: NumpyMiniLMEmbedder) -> None:
    vectors = minilm_fp32.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm_fp32.embed([]).shape == (0, 384)


def test_padding_does_not_change_a_vector(minilm_fp32: NumpyMiniLMEmbedder) -> None:
    # A short text batched with a long one is padded; the mask must hide the padding.
    short = "Melanie is planning to go camping in June."
    alone = minilm_fp32.embed([short])[0]
    padded = minilm_fp32.embed([short, "a much longer sentence " * 20])[0]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_int8_agrees_with_fp32_sentence_by_sentence(
    minilm: MiniLMEmbedder, minilm_fp32: NumpyMiniLMEmbedder
) -> None:
    cosines = np.sum(minilm.embed(SENTENCES) * minilm_fp32.embed(SENTENCES), axis=1)
    assert cosines.min() >= 0.99, cosines


def test_int8_keeps_fp32_top10_neighbours(
    minilm: MiniLMEmbedder, minilm_fp32: NumpyMiniLMEmbedder
) -> None:
    def top10(vectors: np.ndarray) -> list[set[int]]:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:10].tolist()) for row in sims]

    int8 = top10(minilm.embed(NEIGHBOUR_SET))
    fp32 = top10(minilm_fp32.embed(NEIGHBOUR_SET))
    overlap = np.mean([len(a & b) / 10 for a, b in zip(int8, fp32, strict=True)])
    assert overlap >= 0.85, overlap


def test_tampered_weights_raise_model_integrity_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    shutil.copyfile(SAFETENSORS_FP32.locate(), bad)
    with bad.open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)[0]
        f.seek(-1, 2)
        f.write(bytes([last ^ 0x01]))
    with pytest.raises(ModelIntegrityError, match=r"model\.safetensors"):
        NumpyMiniLMEmbedder(weights_path=bad).embed(["hello"])
