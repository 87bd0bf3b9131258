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
