"""Finding work by its words, as pure functions: what of a bounty a search looks in, and the words of a search.

A search finds the bounties whose title or tags contain every word given, in any case ("Logo" finds "logo
redesign", "straße" finds "STRASSE") and in any of Unicode's spellings of the same text ("café" with its accent
composed or as a separate mark, full-width "ＬＯＧＯ", the "ﬁ" ligature, Turkish "İ"): both sides are folded
alike (`fold`).
The description is left out: a copy of it in every open bounty would double what each listing reads and is billed
for, for words a title and tags carry in practice.
"""

from __future__ import annotations

import unicodedata

from . import errors

MAX_QUERY = 100  # characters of a search, as sent


def fold(text: str) -> str:
    """Text as a search compares it: compatibility-normalized (NFKC), case folded, and normalized again (folding
    can undo the normalization: Unicode's NFKC_Casefold, in two standard steps). The capital İ folds to i with a
    combining dot above, which no one types after a lower-case i: the dot is dropped, so "istanbul" finds
    "İstanbul" and "İstanbul" finds "ISTANBUL"."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.replace("i\u0307", "i")


def searchable(title: str, tags: list[str]) -> str:
    """What a search looks in, folded as the words of a search are."""
    return fold("\n".join([title, *tags]))


def words_of(query: str | None) -> tuple[str, ...]:
    """The distinct words of a search (none: no search)."""
    if query is None:
        return ()
    if len(query) > MAX_QUERY:
        raise errors.Invalid(f"q must be at most {MAX_QUERY} characters.", code="invalid_query")
    return tuple(dict.fromkeys(fold(query).split()))
