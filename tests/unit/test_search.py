"""The words of a search and what it looks in (chalicelib/core/search.py)."""

import pytest

from chalicelib.core import errors, search


def test_a_search_looks_in_the_title_and_tags_case_folded():
    text = search.searchable("Redesign the LOGO — Straße", ["brand-kit", "svg"])
    assert "logo" in text and "strasse" in text and "brand-kit" in text and "svg" in text


def test_the_words_of_a_search_are_distinct_folded_and_bounded():
    assert search.words_of(None) == () and search.words_of("   ") == ()
    assert search.words_of(" Logo  SVG\tlogo ") == ("logo", "svg")
    assert search.words_of("x" * search.MAX_QUERY) == ("x" * search.MAX_QUERY,)
    with pytest.raises(errors.Invalid) as refused:
        search.words_of("x" * (search.MAX_QUERY + 1))
    assert refused.value.code == "invalid_query"
