"""A namespace's cipher remembers a bounded number of opened values
(docs/limits.md, "Caches"): past the bound it starts afresh, and every value
still opens to its text."""

from __future__ import annotations

import os

import pytest

from engramdb.security import crypto


def test_opened_values_past_the_bound_start_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_OPENED_MAX", 3)
    cipher = crypto.NamespaceCipher(os.urandom(32))
    sealed = [(cipher.seal(f"value {i}", f"row:{i}"), f"row:{i}") for i in range(7)]
    for _ in range(2):
        for i, (value, aad) in enumerate(sealed):
            assert cipher.open(value, aad) == f"value {i}"
            assert len(cipher._opened) <= 3  # private: the bound is what is tested
