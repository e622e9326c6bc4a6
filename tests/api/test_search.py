"""Finding work by its words (an extension of API.md): `GET /v1/bounties?q=` lists the open bounties whose title or
tags contain every word, in any case, with the other filters, in bounded stretches like them."""

import uuid

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import index_search as _index_search
from devtools import local_iam

index_search = local_iam.as_operator(_index_search)


def _found(api, query: str, key: str | None = None, **filters) -> list[str]:
    params = "&".join(f"{name}={value}" for name, value in {"q": query, "limit": 100, **filters}.items())
    return [b["id"] for b in api.ok("GET", f"/v1/bounties?{params}", key=key)["items"]]


def test_words_find_bounties_by_title_and_tags_in_any_case(api, client_acct):
    key, word = client_acct["api_key"], uuid.uuid4().hex[:8]
    logo = api.bounty(key, title=f"Redesign the LOGO of {word} Straße", tags=["design"])
    labels = api.bounty(key, title=f"Label {word} images", tags=["logo-set", "images"])
    other = api.bounty(key, title="Something else entirely", tags=[word])
    assert _found(api, f"logo {word}") == [labels["id"], logo["id"]]  # newest first; a tag's words count
    assert _found(api, f"{word.upper()}  STRASSE") == [logo["id"]]  # case folded, ß as ss
    assert _found(api, word) == [other["id"], labels["id"], logo["id"]]
    assert _found(api, f"{word} images", tag="images") == [labels["id"]]
    assert _found(api, f"{word} logo", min_reward=501) == []
    assert _found(api, f"{word} cats") == []  # the description ("Draw boxes around cats.") is not searched
    assert _found(api, f"logo {word}", key=key, mine="true") == [labels["id"], logo["id"]]
    assert len(_found(api, "")) == len(api.ok("GET", "/v1/bounties?limit=100")["items"])  # empty: no filter
    code, body = api.call("GET", "/v1/bounties?q=" + "x" * 101)
    assert (code, body["error"]["code"]) == (422, "invalid_query"), body


def test_bounties_stored_before_search_are_given_their_text_once(api, client_acct):
    """An upgrade from a release without search: `python -m ops index-search` gives every bounty its text (a Scan,
    for an operator); running it again changes nothing."""
    word = uuid.uuid4().hex[:8]
    bounty = api.bounty(client_acct["api_key"], title=f"Old {word} task")
    m.BountyModel.get(bounty["id"]).update([m.BountyModel.search_text.remove()])  # as an earlier release stored it
    assert _found(api, word) == []
    assert index_search() >= 1
    assert _found(api, word) == [bounty["id"]]
    assert index_search() == 0


def test_a_text_stored_as_an_earlier_fold_is_derived_again(api, client_acct):
    """A bounty whose text an earlier derivation stored (case folded only: "cafe" and a separate accent) is found
    by a search typed the usual way ("café", composed) once `index-search` has run, and only then."""
    word = uuid.uuid4().hex[:8]
    bounty = api.bounty(client_acct["api_key"], title=f"Cafe\u0301 {word} menu")
    assert _found(api, f"caf\u00e9 {word}") == [bounty["id"]]
    earlier = f"Cafe\u0301 {word} menu".casefold()
    m.BountyModel.get(bounty["id"]).update([m.BountyModel.search_text.set(earlier)])
    assert _found(api, f"caf\u00e9 {word}") == []
    assert index_search() >= 1
    assert _found(api, f"caf\u00e9 {word}") == [bounty["id"]]
    assert index_search() == 0
