"""Finding work by its words, as pure functions: what of a bounty a search looks in, and the words of a search.

A search finds the bounties whose title or tags contain every word given, in any case ("Logo" finds "logo
redesign", "straße" finds "STRASSE"). The description is left out: a copy of it in every open bounty would double
what each listing reads and is billed for, for words a title and tags carry in practice.
"""

from __future__ import annotations

from . import errors

MAX_QUERY = 100  # characters of a search, as sent


def searchable(title: str, tags: list[str]) -> str:
    """What a search looks in, case folded as the words of a search are."""
    return "\n".join([title, *tags]).casefold()


def words_of(query: str | None) -> tuple[str, ...]:
    """The distinct words of a search (none: no search)."""
    if query is None:
        return ()
    if len(query) > MAX_QUERY:
        raise errors.Invalid(f"q must be at most {MAX_QUERY} characters.", code="invalid_query")
    return tuple(dict.fromkeys(query.casefold().split()))
