"""The rule-based extractor: first-person statements, the speaker as subject."""

from __future__ import annotations

import pytest

from engramdb.config import Settings
from engramdb.consolidate.extract import RuleExtractor
from engramdb.consolidate.extractors import make_extractor
from engramdb.consolidate.llm import LLMExtractor
from engramdb.errors import InvalidInputError

from .conftest import NOW, day, hash_memory

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


# Third person, relatives and common phrasings (docs/consolidation.md, "Coverage
# of the rule extractor"): (speaker, text, subject, attribute, value).
THIRD_PERSON = [
    ("Tom", "Bob lives in Paris now.", "Bob", "residence", "Paris"),
    ("Maya", "Alice just moved to Berlin!", "Alice", "residence", "Berlin"),
    ("Tom", "Bob works at Google.", "Bob", "employer", "Google"),
    ("Ana", "Carlos is a software engineer.", "Carlos", "occupation", "software engineer"),
    ("Tom", "Sarah works as a teacher in Leeds.", "Sarah", "occupation", "teacher"),
    ("Lena", "Alice is a nurse at St. Mary's.", "Alice", "employer", "St. Mary's"),
    ("Tom", "Bob likes sushi.", "Bob", "feeling about sushi", "likes"),
    ("Jin", "Alice loves horror movies.", "Alice", "feeling about horror movies", "loves"),
    ("Ana", "Bob is 52.", "Bob", "age", "52"),
    ("Maya", "Bob has two cats.", "Bob", "number of cats", "2"),
    ("Tom", "Bob's wife is Carol.", "Bob", "partner", "Carol"),
    ("Tom", "Alice is dating Mark.", "Alice", "partner", "Mark"),
    ("Jin", "Alice's brother is called Tom.", "Alice", "brother", "Tom"),
]
RELATIVES = [
    ("Maya", "My sister moved to Lyon last spring.", "Maya's sister", "residence", "Lyon"),
    ("Lena", "My parents live in Madrid.", "Lena's parents", "residence", "Madrid"),
    ("Jin", "My husband is a doctor.", "Jin's husband", "occupation", "doctor"),
    ("Maya", "My mom works as an accountant.", "Maya's mom", "occupation", "accountant"),
    ("Sam", "My wife works at a hospital.", "Sam's wife", "employer", "a hospital"),
    ("Jin", "My son is 7 years old.", "Jin's son", "age", "7"),
    ("Tom", "My sister hates coffee.", "Tom's sister", "feeling about coffee", "hates"),
    ("Omar", "My brother Karim lives in Cairo.", "Karim", "residence", "Cairo"),
]
FIRST_PERSON = [
    ("Tom", "Our new place is in Brooklyn.", "residence", "Brooklyn"),
    ("Ana", "I've been living in Denver for three years.", "residence", "Denver"),
    ("Sam", "I got hired by Shopify last month.", "employer", "Shopify"),
    ("Tom", "I just started at Microsoft.", "employer", "Microsoft"),
    ("Omar", "I'm an engineer at Siemens.", "employer", "Siemens"),
    ("Ana", "I teach math at a high school.", "occupation", "teacher"),
    ("Ana", "I teach math at a high school.", "employer", "a high school"),
    ("Jin", "Mia is my girlfriend.", "partner", "Mia"),
    ("Ana", "Carlos and I got engaged!", "partner", "Carlos"),
    ("Omar", "My best friend is called Yusuf.", "best friend", "Yusuf"),
    ("Lena", "I'm a big fan of jazz.", "feeling about jazz", "likes"),
    ("Omar", "I'm really into rock climbing.", "feeling about rock climbing", "likes"),
    ("Ana", "I prefer tea over coffee.", "feeling about tea", "likes"),
    ("Nate", "Sharing my love for vegan desserts is fun.", "feeling about vegan desserts", "loves"),
    ("Maya", "Pizza is my favorite food.", "favorite food", "Pizza"),
    ("Omar", "Our cat, Luna, is sleeping.", "pet cat", "Luna"),
    ("Tom", "I adopted a puppy called Biscuit.", "pet dog", "Biscuit"),
    ("Jin", "We have a dog named Max.", "pet dog", "Max"),
]


@pytest.mark.parametrize(("speaker", "text", "subject", "attribute", "value"), THIRD_PERSON)
def test_third_person_statements_are_about_the_person_named(
    speaker: str, text: str, subject: str, attribute: str, value: str
) -> None:
    found = RuleExtractor().extract_one(text, speaker)
    assert (subject, attribute, value) in [(e.subject, e.attribute, e.value) for e in found]
    assert speaker not in {e.subject for e in found}


@pytest.mark.parametrize(("speaker", "text", "subject", "attribute", "value"), RELATIVES)
def test_an_unnamed_relative_is_named_by_the_relation(
    speaker: str, text: str, subject: str, attribute: str, value: str
) -> None:
    found = RuleExtractor().extract_one(text, speaker)
    assert (subject, attribute, value) in [(e.subject, e.attribute, e.value) for e in found]


@pytest.mark.parametrize(("speaker", "text", "attribute", "value"), FIRST_PERSON)
def test_common_first_person_phrasings_are_facts_about_the_speaker(
    speaker: str, text: str, attribute: str, value: str
) -> None:
    found = RuleExtractor().extract_one(text, speaker)
    assert (speaker, attribute, value) in [(e.subject, e.attribute, e.value) for e in found]


def test_a_named_relative_is_both_a_relation_and_a_subject() -> None:
    found = RuleExtractor().extract_one("My brother Karim lives in Cairo.", "Omar")
    facts = {(e.subject, e.attribute, e.value) for e in found}
    assert {("Omar", "brother", "Karim"), ("Karim", "residence", "Cairo")} <= facts
    assert next(e.text for e in found if e.subject == "Karim") == "Karim lives in Cairo"


@pytest.mark.parametrize(
    "text",
    [
        "She works at a bank.",
        "He lives in Oslo.",
        "Everyone loves a good story.",
        "I quit my job at Amazon.",
        "I love how you use it to tell your stories.",
        "I don't live in Paris anymore.",
        "I'm not a teacher.",
        "I grew up in Chicago.",
        "My friend thinks I should move to Berlin.",
        "The meeting is at 3 pm.",
    ],
)
def test_unnamed_subjects_negations_and_clauses_yield_no_fact(text: str) -> None:
    found = RuleExtractor().extract_one(text, "Maya")
    assert [
        (e.subject, e.attribute, e.value) for e in found if e.attribute not in {"did", "plan"}
    ] == []


def test_third_person_values_supersede_per_person_but_unnamed_cousins_accumulate() -> None:
    said = [
        (0, "Tom", "Bob lives in Paris now."),
        (0, "Maya", "My cousin works at Adobe, she likes it."),
        (90, "Tom", "Bob just moved to Rome!"),
        (90, "Maya", "My cousin works at Nike."),  # perhaps another cousin: both hold
        (120, "Maya", "My mom works at Lego."),
        (150, "Maya", "My mom works at Ikea now."),  # one mother: the new value replaces
    ]
    with hash_memory() as mem:
        mem.add_many(
            [{"text": t, "speaker": s, "occurred_at": day(d)} for d, s, t in said], namespace="u"
        )
        mem.consolidate(namespace="u", now=NOW)
        bob = mem.facts(namespace="u", subject="Bob", attribute="residence")
        cousin = mem.facts(namespace="u", subject="Maya's cousin", attribute="employer")
        mom = mem.facts(namespace="u", subject="Maya's mom", attribute="employer")
    assert [(f.value, f.status) for f in bob] == [("Paris", "superseded"), ("Rome", "current")]
    assert sorted((f.value, f.status) for f in cousin) == [
        ("Adobe", "current"),
        ("Nike", "current"),
    ]
    assert [(f.value, f.status) for f in mom] == [("Lego", "superseded"), ("Ikea", "current")]


@pytest.mark.parametrize(
    ("text", "attribute", "value"),
    [
        ("I love pottery - the creativity is endless.", "feeling about pottery", "loves"),
        ("My daughter Sara's school is great.", "daughter", "Sara"),
        ("I love being a mom.", "feeling about being a mom", "loves"),
    ],
)
def test_a_dash_ends_a_value_and_a_possessive_name_is_the_name(
    text: str, attribute: str, value: str
) -> None:
    found = RuleExtractor().extract_one(text, "Maya")
    assert [(e.attribute, e.value) for e in found] == [(attribute, value)]


@pytest.mark.parametrize(
    "text",
    ["Gaming is what I'm passionate about - I'm loving it.", "I love those.", "I love to."],
)
def test_a_liking_needs_a_thing_not_a_pronoun_or_a_clause(text: str) -> None:
    found = RuleExtractor().extract_one(text, "Maya")
    assert [e.attribute for e in found if e.attribute.startswith("feeling")] == []
