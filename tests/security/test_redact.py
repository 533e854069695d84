"""PII redaction: typed placeholders, checksums that keep look-alikes, opt-in per namespace."""

from __future__ import annotations

import pytest

from engramdb import Memory, Settings
from engramdb.security.redact import iban_ok, luhn_ok, redact
from engramdb.testing.fakes import HashEmbedder

POSITIVES = [
    ("mail me at maya.k+x@example.co.uk today", "mail me at [EMAIL] today", "email"),
    ("call +1 415-555-0132 please", "call [PHONE] please", "phone"),
    ("call (020) 7946 0958", "call [PHONE]", "phone"),
    ("card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29", "card"),
    ("card 5555-5555-5555-4444", "card [CARD]", "card"),
    ("pay GB82 WEST 1234 5698 7654 32 now", "pay [IBAN] now", "iban"),
    ("iban DE89370400440532013000", "iban [IBAN]", "iban"),
    ("server 192.168.1.20 is up", "server [IP] is up", "ip"),
    ("v6 2001:db8::8a2e:370:7334 here", "v6 [IP] here", "ip"),
    ("my ssn is 123-45-6789", "my ssn is [SSN]", "ssn"),
]

NEGATIVES = [
    "card 4111 1111 1111 1112 fails Luhn",
    "iban GB82WEST12345698765433 fails mod-97",
    "version 1.2.3 and 999.1.1.1 are not addresses",
    "we met at 10:30:00 on 2023-05-08",
    "I have 2 dogs and 3 cats",
    "ssn-like 000-12-3456 is never issued",
    "an @ sign alone, or user@localhost",
    "order #12345",
]


@pytest.mark.parametrize(("text", "expected", "kind"), POSITIVES)
def test_redact_replaces_pii_with_a_typed_placeholder(text: str, expected: str, kind: str) -> None:
    assert redact(text) == (expected, {kind: 1})


@pytest.mark.parametrize("text", NEGATIVES)
def test_redact_leaves_look_alikes_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_checksums() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("GB82WEST12345698765433")


def test_redact_counts_each_kind() -> None:
    text, counts = redact("a@b.io, c@d.io, 10.0.0.1")
    assert text == "[EMAIL], [EMAIL], [IP]"
    assert counts == {"email": 2, "ip": 1}


def test_only_namespaces_that_opted_in_are_redacted() -> None:
    settings = Settings(redact_namespaces=frozenset({"private"}))
    with Memory(":memory:", embedder=HashEmbedder(), settings=settings) as mem:
        kept = mem.add("write to maya@example.com", namespace="open")
        hidden = mem.add("write to maya@example.com", namespace="private")
        assert kept.text == "write to maya@example.com"
        assert "redacted" not in kept.metadata
        assert hidden.text == "write to [EMAIL]"
        assert hidden.metadata["redacted"] == {"email": 1}
        [batch] = mem.add_many([{"text": "ip 10.1.2.3"}], namespace="private")
        assert batch.text == "ip [IP]"
        updated = mem.update(hidden.id, namespace="private", text="call +1 415-555-0132")
        assert updated.text == "call [PHONE]"
        assert updated.metadata["redacted"] == {"phone": 1}
        assert all("maya@" not in v.text for v in mem.history(hidden.id, namespace="private")[1:])


def test_redact_namespaces_from_the_environment() -> None:
    settings = Settings.from_env({"ENGRAMDB_REDACT_NAMESPACES": "a, b,,"})
    assert settings.redact_namespaces == frozenset({"a", "b"})
