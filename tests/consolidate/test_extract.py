"""The rule-based extractor: first-person statements, the speaker as subject."""

from __future__ import annotations

import pytest

from engramdb.config import Settings
from engramdb.consolidate.extract import RuleExtractor
from engramdb.consolidate.extractors import make_extractor
from engramdb.consolidate.llm import LLMExtractor
from engramdb.errors import InvalidInputError

CASES = [
    ("I moved to New York last month!", "residence", "New York"),
    ("We finally relocated to Lisbon.", "residence", "Lisbon"),
    ("Big news: I live in Denver, Colorado now.", "residence", "Denver"),
    ("My new job at Stripe is great.", "employer", "Stripe"),
    ("I work at a bakery in town.", "employer", "a bakery"),
    ("I'm a teacher now.", "occupation", "teacher"),
    ("My partner is Alex.", "partner", "Alex"),
    ("My wife Sarah says hi.", "partner", "Sarah"),
    ("I'm dating Sam now.", "partner", "Sam"),
    ("We have 2 dogs.", "number of dogs", "2"),
    ("I have three kids.", "number of kids", "3"),
    ("My favorite food is now ramen.", "favorite food", "ramen"),
    ("I love pottery.", "feeling about pottery", "loves"),
    ("I'm 32 years old.", "age", "32"),
    ("My dog is named Max.", "pet dog", "Max"),
    ("My sister Ana visited.", "sister", "Ana"),
    ("I'm going to Paris next week.", "plan", "going to Paris"),
    ("I went to a support group yesterday.", "did", "went to a support group"),
]


@pytest.mark.parametrize(("text", "attribute", "value"), CASES)
def test_rules_find_first_person_statements(text: str, attribute: str, value: str) -> None:
    found = RuleExtractor().extract_one(text, "Maya")
    assert (attribute, value) in [(e.attribute, e.value) for e in found]
    assert all(e.subject == "Maya" for e in found)


@pytest.mark.parametrize(
    "text",
    ["Where do you live now?", "I'm 5 minutes away.", "How have you been?", "Do you love it?"],
)
def test_rules_ignore_questions_and_non_statements(text: str) -> None:
    found = RuleExtractor().extract_one(text, "Maya")
    assert [e for e in found if e.attribute in {"residence", "age", "feeling about it"}] == []


def test_a_fact_reads_as_a_sentence_about_its_subject() -> None:
    (fact,) = RuleExtractor().extract_one("I just moved to Denver!", "Maya")
    assert fact.text == "Maya lives in Denver"
    assert fact.exclusive


def test_the_default_extractor_is_local_and_the_llm_one_needs_its_settings() -> None:
    assert isinstance(make_extractor(Settings()), RuleExtractor)
    with pytest.raises(InvalidInputError):
        make_extractor(Settings(extractor="llm"))
    built = make_extractor(
        Settings(extractor="llm", extractor_url="http://127.0.0.1:9/v1", extractor_model="m")
    )
    assert isinstance(built, LLMExtractor)
    assert built.url == "http://127.0.0.1:9/v1/chat/completions"
