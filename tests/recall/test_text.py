"""Folding: the one normalisation of recall's lexical comparisons (recall/text.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engramdb.recall.text import capitalised_names, fold, words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Pastéis de Óbidos", "pasteis de obidos"),
        (unicodedata.normalize("NFD", "Crème Brûlée"), "creme brulee"),  # arrives decomposed
        ("ﬁne ﬂour", "fine flour"),
        ("\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48 \uff12", "full width 2"),
        ("Straße STRASSE", "strasse strasse"),
        ("København Ærø Łódź Đakovo Þór İstanbul", "kobenhavn aero lodz dakovo thor istanbul"),
        ("Καλημέρα", "καλημερα"),
        ("Plain ASCII, Kept As Is", "plain ascii, kept as is"),
    ],
)
def test_fold_drops_case_accents_and_compatibility_forms(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_words_and_names_are_folded() -> None:
    assert words("Zoë's café") == ["zoe's", "cafe"]
    assert capitalised_names("We met Zoë at the Café.") == {"zoe", "cafe"}
