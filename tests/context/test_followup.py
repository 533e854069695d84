"""Context-conditioned recall: pronouns and anaphors resolved against the conversation."""

from __future__ import annotations

import pytest

from engramdb import InvalidInputError, Memory
from engramdb.recall.followup import Turn, parse_turn, referent, resolve, topics

from .conftest import T0, TURNS

KNOWN = ["caroline", "melanie"]


@pytest.mark.parametrize(
    ("query", "context", "expected"),
    [
        ("When did she go to the support group?", ["Tell me about Caroline."],
         "When did Caroline go to the support group?"),
        ("What did her kids love?", ["Tell me about Melanie."], "What did Melanie's kids love?"),
        ("What did he give to her?", ["I saw Melanie today."], "What did Melanie give to Melanie?"),
        ("What does he paint?", ["Melanie: I love painting"], "What does Melanie paint?"),
        ("Where did they go camping?", ["Melanie: how is Caroline?"],
         "Where did Caroline go camping?"),
        ("What did Caroline research?", ["Tell me about Melanie."], "What did Caroline research?"),
        ("What did I say?", ["Tell me about Melanie."], "What did I say?"),
        ("When did she meet Anna?", ["Tell me about Caroline."], "When did Caroline meet Anna?"),
        ("What did Anna say about her?", ["Tell me about Caroline."],
         "What did Anna say about her?"),
    ],
)  # fmt: skip
def test_third_person_pronouns_take_the_latest_person(
    query: str, context: list[str], expected: str
) -> None:
    assert resolve(query, [parse_turn(c) for c in context], KNOWN).text == expected


def test_a_person_named_in_the_latest_turn_wins_over_its_speaker_and_older_turns() -> None:
    turns = [Turn("Tell me about Caroline."), Turn("how is Anna doing?", speaker="Melanie")]
    assert referent(turns, KNOWN) == "Anna"
    assert referent([Turn("I went hiking", speaker="Caroline")], KNOWN) == "Caroline"
    assert referent([Turn("nothing here")], KNOWN) is None


def test_a_labelled_turn_names_its_speaker() -> None:
    assert parse_turn("Caroline: I went hiking") == Turn("I went hiking", "Caroline")
    assert parse_turn("What: no") == Turn("What: no")


def test_search_with_context_resolves_she_to_the_right_person(mem: Memory) -> None:
    hits = mem.search(
        "What is she researching?",
        namespace="n",
        limit=1,
        now=T0,
        reinforce=False,
        context=["Tell me about Caroline."],
    )
    assert hits[0].engram.text == "I am researching adoption agencies."
    assert "context_dense" in hits[0].explain.shares


def test_search_context_may_be_a_session_id(mem: Memory) -> None:
    hits = mem.search(
        "what about her sister?", namespace="n", limit=1, now=T0, reinforce=False, context="s1"
    )
    assert hits[0].engram.session == "s1"


@pytest.mark.parametrize("bad", [[""], [3], {"a": "b"}, b"s1", ["x"] * 201])
def test_search_refuses_a_malformed_context(mem: Memory, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        mem.search("she?", namespace="n", context=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "context", "expected"),
    [
        # the benchmark's kind of turn (bench/context.py)
        ("When did she go to that?", ["Tell me about Caroline and the LGBTQ support group."],
         "When did Caroline go to LGBTQ support group?"),
        ("What is it?", ["Tell me about Caroline's relationship status."],
         "What is Caroline's relationship status?"),
        ("When did she paint that one?", ["Tell me about Melanie and a lake sunrise."],
         "When did Melanie paint lake sunrise?"),
        # natural turns: the salient phrase, not the time or the chatter around it
        ("What did she do there?",
         ["Caroline: I went to the LGBTQ support group yesterday and it was powerful."],
         "What did Caroline do LGBTQ support group?"),
        ("How long was that trip?", ["Melanie: My kids loved the camping trip to the mountains."],
         "How long was camping trip?"),
        ("When did she start that?", ["Tell me about Melanie and the pottery class.", "Okay!"],
         "When did Melanie start pottery class?"),
        ("Did she describe that for you?", ["Caroline painted a mural."],
         "Did Caroline describe mural for you?"),
        ("What about the other one?", ["I have a red bike and a blue car"],
         "What about red bike?"),
        # not anaphors: a relative "that", a clause, an existential "there"
        ("What was the book that inspired her?", ["Tell me about Caroline and the library."],
         "What was the book that inspired Caroline?"),
        ("Did she say that she moved?", ["Tell me about Caroline and the library."],
         "Did Caroline say that Caroline moved?"),
        ("Is there a park nearby?", ["We talked about the museum."], "Is there a park nearby?"),
        # a context without a phrase changes nothing
        ("What was that?", ["Tell me about it!"], "What was that?"),
    ],
)  # fmt: skip
def test_anaphors_of_things_take_the_contexts_topic(
    query: str, context: list[str], expected: str
) -> None:
    assert resolve(query, [parse_turn(c) for c in context], KNOWN).text == expected


def test_the_topic_is_a_noun_phrase_then_the_rarest_then_the_latest() -> None:
    turn = [Turn("My kids loved the camping trip to the mountains.")]
    assert topics(turn)[0] == "mountains"
    rare = {"camping": 5.0}
    assert topics(turn, rarity=lambda w: rare.get(w.lower(), 1.0))[0] == "camping trip"
    # what the query already says is not what it points at
    assert topics(turn, besides="Did she like the mountains?")[0] == "camping trip"
    assert topics([Turn("Tell me about Caroline.")], ["caroline"]) == []


def test_search_with_context_finds_what_that_means(mem: Memory) -> None:
    question = "When did she go to that?"
    alone = mem.search(question, namespace="n", limit=1, now=T0, reinforce=False)
    hits = mem.search(
        question,
        namespace="n",
        limit=1,
        now=T0,
        reinforce=False,
        context=["Tell me about Caroline and the LGBTQ support group."],
    )
    assert hits[0].engram.text == TURNS[0][1]
    assert "lexical" in hits[0].explain.paths  # the topic reached the query's words
    assert alone[0].engram.text != TURNS[0][1]


@pytest.mark.parametrize(
    ("question", "turn", "expected"),
    [
        ("What is she doing about that?", "Caroline: I keep thinking about adoption agencies.",
         TURNS[4][1]),
        ("Where did they go on that trip?", "Melanie: the kids still talk about the camping.",
         TURNS[3][1]),
        ("What did she paint there?", "Melanie: we watched the sunrise over the lake", TURNS[1][1]),
    ],
)  # fmt: skip
def test_search_follows_a_natural_turn(
    mem: Memory, question: str, turn: str, expected: str
) -> None:
    hits = mem.search(question, namespace="n", limit=1, now=T0, reinforce=False, context=[turn])
    assert hits[0].engram.text == expected


def test_a_session_context_never_reads_another_session_or_namespace(mem: Memory) -> None:
    # a session of another namespace whose topic would change the answer if it leaked
    mem.add(
        "I adopted a puppy at the animal shelter.",
        namespace="other",
        session="s3",
        speaker="Caroline",
        occurred_at=T0,
    )
    question = "What did she do at that?"

    def ids(context: list[str] | str | None) -> list[str]:
        hits = mem.search(
            question, namespace="n", limit=6, now=T0, reinforce=False, context=context
        )
        assert all(h.engram.namespace == "n" for h in hits)
        return [h.engram.id for h in hits]

    assert ids("s3") == ids(None)  # no session s3 in namespace n: no context at all
    assert ids("s2") == ids(["Melanie: A turn of another session"])  # s2's turns, only them
    assert ids("s2") != ids(["Caroline: I adopted a puppy at the animal shelter."])


# People in follow-ups (docs/context.md, "Who a pronoun means"): the person the
# context is about, not the context's speaker.
@pytest.mark.parametrize(
    ("query", "context", "expected"),
    [
        # the speaker asks about a third person, then refers to her by pronoun
        ("What is she researching?",
         ["Melanie: How is Caroline doing these days?", "Melanie: I heard she has big plans."],
         "What is Caroline researching?"),
        # two people named: the most recent wins
        ("Where does he work?",
         ["Caroline: I had lunch with Gina yesterday.", "Caroline: Then Jon called me."],
         "Where does Jon work?"),
        # possessives
        ("What is her job?",
         ["Melanie: Have you heard from Caroline?", "Melanie: I think she moved."],
         "What is Caroline's job?"),
        ("Is the car hers?", ["Melanie: Caroline bought a new car."], "Is the car Caroline's?"),
        # a couple: "they" is both of them
        ("Where did they open their studio?",
         ["Caroline: I ran into Jon and Gina at the market."],
         "Where did Jon and Gina open Jon and Gina's studio?"),
        # the interlocutor: Caroline talked about herself, Melanie only answered
        ("What is she researching?",
         ["Caroline: I spent the whole week reading about adoption.",
          "Melanie: Wow, that is wonderful news!"],
         "What is Caroline researching?"),
        ("What did she find?",
         ["Caroline: I spent the week reading about adoption.",
          "Melanie: Wow, I am so proud of you!"],
         "What did Caroline find?"),
        # someone unnamed: "she" in Melanie's own turn is not Melanie
        ("What does she teach?",
         ["Melanie: I met my new neighbour. She is a teacher."],
         "What does she teach?"),
        # the asker says "I": her "she" is somebody else, and nobody else is named
        ("What did I tell her?", ["Melanie: I love painting sunsets."], "What did I tell her?"),
        ("Did I tell her about my painting?",
         ["Melanie: How is Caroline?", "Melanie: I love painting sunsets."],
         "Did I tell Caroline about my painting?"),
        # gender learned from the context: "he" is not the woman called "she"
        ("What did he say?",
         ["Caroline: Yesterday Jon came by with Gina.", "Caroline: She brought cake."],
         "What did Jon say?"),
        # reflexive: the person once is enough
        ("Did she paint it herself?", ["Melanie: How is Caroline?"],
         "Did Caroline paint it herself?"),
        ("Who took care of himself?", ["Caroline: My friend Jon was sick."],
         "Who took care of Jon?"),
    ],
)  # fmt: skip
def test_pronouns_mean_the_person_the_context_is_about(
    query: str, context: list[str], expected: str
) -> None:
    assert resolve(query, [parse_turn(c) for c in context], KNOWN).text == expected


def test_referent_skips_the_speaker_who_talks_about_someone_else() -> None:
    turns = [
        Turn("How is Caroline doing these days?", speaker="Melanie"),
        Turn("I heard she has big plans.", speaker="Melanie"),
    ]
    assert referent(turns, KNOWN) == "Caroline"
    assert referent(turns, KNOWN, "he") == "Melanie"  # "she" is Caroline; Melanie may be "he"


def test_search_resolves_she_to_the_person_the_speaker_asked_about(mem: Memory) -> None:
    context = ["Melanie: How is Caroline doing these days?", "Melanie: I heard she has big plans."]
    hits = mem.search(
        "What is she researching?", namespace="n", limit=1, now=T0, reinforce=False,
        context=context,
    )  # fmt: skip
    assert hits[0].engram.text == "I am researching adoption agencies."
    assert hits[0].engram.speaker == "Caroline"


def test_search_resolves_she_to_the_speakers_interlocutor(mem: Memory) -> None:
    context = ["Caroline: I have been so busy at work.", "Melanie: Oh no, take care!"]
    hits = mem.search(
        "Who is visiting her?", namespace="n", limit=1, now=T0, reinforce=False, context=context
    )
    assert hits[0].engram.text == "My sister Anna is visiting me next month."


def test_a_long_context_is_read_for_its_recent_people() -> None:
    turns = [parse_turn("Caroline: I saw Anna at the market.")] * 199
    turns.append(parse_turn("Caroline: Then Jon called me."))
    assert resolve("What did he want?", turns, KNOWN).text == "What did Jon want?"
    assert resolve("What did they buy?", turns[:-1], KNOWN).text == "What did Anna buy?"
