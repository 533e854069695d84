"""PII redaction on write: typed placeholders and a count per kind (docs/security.md).

It owns the patterns and their checks: e-mail addresses, phone numbers, card
numbers (kept only when the Luhn check passes), IBANs (mod-97), IPv4/IPv6
addresses and US social security numbers. A match becomes ``[EMAIL]``,
``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[IP]`` or ``[SSN]``. It does not find
names, addresses or free-text secrets, and it is a pure function of the text:
whether a namespace is redacted is decided by ``Memory`` (``Settings``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["redact", "redacted"]


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces removed, upper case)."""
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _iban(match: re.Match[str]) -> bool:
    return iban_ok(re.sub(r"\s", "", match.group()).upper())


def _ip(match: re.Match[str]) -> bool:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return False
    return True


def _ipv6(match: re.Match[str]) -> bool:
    # "10:30:00" is a time, not an address: an IPv6 needs a "::" or 8 groups
    return ("::" in match.group() or match.group().count(":") == 7) and _ip(match)


def _always(_: re.Match[str]) -> bool:
    return True


# Order matters: the more specific kinds first, so a card number is not taken
# for a phone number and an IBAN's digits not for a card.
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], bool]], ...] = (
    ("email", re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), _always),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card),
    ("ssn", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), _always),
    ("ip", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), _ip),
    ("ip", re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"), _ipv6),
    (
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?"
            r"\d{2,4}(?:[ .-]\d{2,4}){1,4}(?!\w)"
        ),
        lambda m: 10 <= len(re.sub(r"\D", "", m.group())) <= 15,
    ),
)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with each PII match replaced by its placeholder, and the count per kind."""
    counts: dict[str, int] = {}
    for kind, pattern, valid in _RULES:

        def replace(
            match: re.Match[str], kind: str = kind, valid: Callable[..., bool] = valid
        ) -> str:
            if not valid(match):
                return match.group()
            counts[kind] = counts.get(kind, 0) + 1
            return f"[{kind.upper()}]"

        text = pattern.sub(replace, text)
    return text, counts


def redacted(text: str, metadata: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A memory's text with its PII replaced, and a copy of its metadata with the
    ``redacted`` counts when any was (without them when none was)."""
    clean, counts = redact(text)
    meta = dict(metadata)
    if counts:
        meta["redacted"] = counts
    else:
        meta.pop("redacted", None)
    return clean, meta
