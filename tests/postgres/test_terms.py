"""The PostgreSQL store's lexical terms are the SQLite store's FTS5 tokens (docs/postgres.md)."""

from __future__ import annotations

import sqlite3

from engramdb.store.postgres.lexical import terms_of, tokens

TEXTS = (
    "I adopted a rescue dog called Pastel; she loves running after the ponies.",
    "Grüße aus Köln — naïve café, Crème brûlée, São Paulo, Ærøskøbing, İstanbul",
    "quote ' and \" NEAR AND OR NOT ^ : ( ) - * '; DROP TABLE engrams; -- ü 🎉 日本語のテキスト",
    "façades señoritas niños größeren Übersetzungen déjà-vu Straße Þórsmörk œuvres",
    "caresses ponies ties caress cats feed agreed plastered motoring sing conflated troubled",
    "e-mail x86_64 3.14 2nd 1,000,000 don't it's O'Brien snake_case CamelCase ALLCAPS",
    "relational conditional rational valenci hesitanci digitizer conformabli radicalli",
    "a supercalifragilisticexpialidociouslyextraordinarilylongwordthatgoespastsixtyfourcharacters",
)


def _fts5_tokens(text: str) -> list[str]:
    """What SQLite's FTS5 indexes ``text`` under, as the SQLite store's table is made."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, instance)")
    conn.execute("INSERT INTO t (x) VALUES (?)", (text,))
    return [term for (term,) in conn.execute("SELECT term FROM v ORDER BY offset")]


def test_terms_are_the_sqlite_stores_fts5_tokens() -> None:
    for text in TEXTS:
        assert tokens(text) == _fts5_tokens(text), text


def test_terms_of_a_memory_are_its_texts_and_keys_distinct_words() -> None:
    assert terms_of("Dogs bark; a dog barked", "dog Pastel") == ["a", "bark", "dog", "pastel"]
    assert terms_of("🎉 --", "") == []
