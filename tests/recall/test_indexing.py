"""Index keys: what a memory is indexed under besides its text (recall/indexing.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engramdb.recall.indexing import index_keys, keys_of

AT = datetime(2021, 9, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ("Daniel has a dentist appointment on 11 September at 8:30.", "Pablo"),
        ("Daniel has a dentist appointment on 11 September at 8:30.", "Daniel"),
        ("Thanks, Pablo", "Pablo"),  # the text ends in the speaker's name
        ("I saw May yesterday, and May said hi", "May"),  # a name that is also a month
        ("We met last week in March 2020", "Ana Lima"),
        ("no time in this one", "Ana"),
    ],
)
def test_the_keys_a_document_ends_in_are_found_again(text: str, speaker: str) -> None:
    keys = index_keys(text, speaker, AT, {})
    assert keys_of(f"{text} {keys}", speaker) == keys


def test_a_memory_without_a_speaker_has_no_keys_told_apart() -> None:
    # its resolved dates cannot be told from its text's own words
    text = "Daniel has a dentist appointment on 11 September at 8:30."
    assert keys_of(f"{text} {index_keys(text, None, AT, {})}", None) == ""


def test_a_document_that_does_not_end_in_keys_has_none() -> None:
    # written without keys: the speaker's name in its text does not start them
    assert keys_of("Pablo said the heating is fixed", "Pablo") == ""
