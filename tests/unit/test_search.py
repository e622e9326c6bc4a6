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


def test_text_written_one_way_is_found_when_typed_another():
    """The same text in another of Unicode's spellings: é composed or as e and an accent, full-width letters, a
    ligature. A title typed on one device is found by words typed on another."""
    def found(title: str, query: str) -> bool:
        return all(word in search.searchable(title, []) for word in search.words_of(query))

    assert found("Caf\u00e9 menu", "cafe\u0301")  # composed in the title, decomposed in the search
    assert found("Cafe\u0301 menu", "CAF\u00c9")  # and the other way round
    assert found("\uff2c\uff2f\uff27\uff2f for a bakery", "logo")  # full-width letters (Ｌ Ｏ Ｇ Ｏ)
    assert found("Of\ufb01ce signs", "office")  # the ﬁ ligature
    assert found("Ma\u00dfe", "MASSE") and found("\u1e9e-Logo", "ss-logo")  # ß and ẞ fold to ss


def test_a_dotted_capital_i_is_found_as_i():
    """Turkish İ folds to i and a combining dot above, which no one types after i: "istanbul" finds "İSTANBUL",
    and "İstanbul" finds "Istanbul"."""
    def found(title: str, query: str) -> bool:
        return all(word in search.searchable(title, []) for word in search.words_of(query))

    assert found("\u0130STANBUL tour", "istanbul") and found("Istanbul tour", "\u0130stanbul")
    assert found("Di\u0307yarbak\u0131r", "diyarbakır")  # a dot written after i on its own, too
