"""Donor names as duplicate detection compares them: the name key.

Two spellings of one organisation should give one key: case, accents and other scripts
(transliterated to ASCII by text-unidecode: "Müller" → "muller", "Министерство" →
"ministerstvo"), punctuation, "&" for "and", a leading "The", and legal suffixes ("Ltd",
"GmbH", "Inc.", ... as cleanco knows them in many countries) are set aside. What the key cannot
make equal (other transliteration schemes, "Mueller" for "Müller", a typo) the trigram
similarity of two keys (PostgreSQL's pg_trgm) measures: donors.duplicates.
"""

import re

from cleanco import basename
from text_unidecode import unidecode

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def name_key(name: str) -> str:
    text = unidecode(name or "").lower().replace("&", " and ")
    # cleanco strips suffixes and the punctuation around them ("Acme, Inc." → "acme"); twice, for
    # stacked ones ("Foo Holdings Ltd").
    text = basename(basename(text))
    words = _NOT_WORD.sub(" ", text).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    return " ".join(words)


_WORDS = re.compile(r"[^\W_]+")


def trigrams(key: str) -> frozenset[str]:
    """The trigrams of a text as PostgreSQL's pg_trgm makes them: each word (letters and digits),
    lower case, padded with two spaces before and one after, cut into every run of three."""
    found = set()
    for word in _WORDS.findall(key.lower()):
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(a, b): the trigrams the two share over those either has (0 to 1).

    Computed here because the embedded PostgreSQL that `make run` and `make test` start (a PyPI
    wheel) ships no pg_trgm; one engine, one result."""
    return trigram_overlap(trigrams(a), trigrams(b))


def trigram_overlap(ta: frozenset[str], tb: frozenset[str]) -> float:
    """The similarity of two trigram sets: shared over either's (0 when either is empty)."""
    return trigram_share(len(ta & tb), len(ta), len(tb))


def trigram_share(shared: int, size_a: int, size_b: int) -> float:
    """The similarity of two trigram sets of these sizes sharing `shared` trigrams: shared over either's
    (0 when either is empty). Duplicate detection counts the shared ones with bit masks."""
    if not size_a or not size_b:
        return 0.0
    return shared / (size_a + size_b - shared)
