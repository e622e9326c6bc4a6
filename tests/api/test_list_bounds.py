"""Lists stay within bounds whatever is stored: a filter few items pass reads a bounded stretch of the index per
request (short pages, each with the cursor to read on), and a page whose answer would pass Lambda's 6 MB is cut
short, its cursor going on from where it was cut."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.adapters import dynamo
from chalicelib.adapters import dynamo_models as m
from chalicelib.api import render
from chalicelib.bootstrap import deps
from tests.api.reads import ReadCounter


def _every_page(api, path: str, key: str | None = None, *, until=lambda pages: False) -> list[dict]:
    """The list's pages, following each cursor to the end (or until `until(pages)`)."""
    pages, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        page = api.ok("GET", path + (f"{separator}cursor={cursor}" if cursor else ""), key=key)
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None or until(pages):
            return pages
        assert len(pages) < 100, "the pages never end"


def _ids(pages: list[dict]) -> list[str]:
    return [item["id"] for page in pages for item in page["items"]]


@pytest.mark.parametrize("shards", ["1", "3"])
def test_a_filter_few_bounties_pass_reads_a_bounded_stretch_per_request(api, client_acct, monkeypatch, shards):
    monkeypatch.setattr(dynamo, "FILTERED_READ", 4)
    monkeypatch.setenv("OPEN_INDEX_SHARDS", shards)
    rare, common = f"rare-{uuid.uuid4().hex[:8]}", f"common-{uuid.uuid4().hex[:8]}"
    wanted = [api.bounty(client_acct["api_key"], tags=[rare])["id"] for _ in range(2)]
    others = [api.bounty(client_acct["api_key"], tags=[common])["id"] for _ in range(10)]
    try:
        _find_the_rare_ones(api, rare, wanted, shards)
    finally:  # closed, they leave the open index: none stays under a shard the next tests do not read
        for bounty_id in wanted + others:
            api.ok("POST", f"/v1/bounties/{bounty_id}/cancel", key=client_acct["api_key"])


def _find_the_rare_ones(api, rare: str, wanted: list[str], shards: str) -> None:
    # Other tests' open bounties are older still: the read stops once both are found, as a client looking would.
    with ReadCounter(m.BountyModel._get_connection().connection.client) as reads:
        pages = _every_page(api, f"/v1/bounties?tag={rare}&limit=1", until=lambda pages: len(_ids(pages)) == 2)
    assert _ids(pages) == list(reversed(wanted))  # newest first, each once
    assert all(rare in item["tags"] for page in pages for item in page["items"])
    if shards == "1":  # ten newer bounties without the tag, read four at a time: short pages came first
        assert len(pages) > 2
    # One Query per shard per page, each reading at most FILTERED_READ items.
    assert reads.calls == ["Query"] * (len(pages) * int(shards))
    assert reads.items_read <= 4 * len(reads.calls)


def test_a_clients_own_bounties_by_status_are_read_in_bounded_stretches_too(api, client_acct, monkeypatch):
    monkeypatch.setattr(dynamo, "FILTERED_READ", 3)
    ids = [api.bounty(client_acct["api_key"])["id"] for _ in range(7)]
    api.ok("POST", f"/v1/bounties/{ids[0]}/cancel", key=client_acct["api_key"])
    pages = _every_page(api, "/v1/bounties?mine=true&status=cancelled&limit=1", key=client_acct["api_key"])
    assert _ids(pages) == [ids[0]]
    assert len(pages) >= 3


def test_a_page_too_large_to_send_is_cut_short_and_goes_on_where_it_was_cut(api, client_acct, freelancer,
                                                                          monkeypatch):
    bounty = api.bounty(client_acct["api_key"])
    thread = f"/v1/bounties/{bounty['id']}/messages"
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=freelancer["api_key"], status=201)
    bodies = [f"{n}: " + "Ж" * 1000 for n in range(12)]  # Cyrillic: 6 bytes each in the body, 7 in the envelope
    for body in bodies:
        api.ok("POST", thread, {"body": body}, key=freelancer["api_key"], status=201)
    one = len(json.dumps(json.dumps({"body": bodies[0]})))
    monkeypatch.setattr(render, "ANSWER_BUDGET_BYTES", 5 * one)  # fits four messages with their other fields
    pages = _every_page(api, f"{thread}?limit=100", key=client_acct["api_key"])
    assert [len(page["items"]) for page in pages] == [4, 4, 4]
    assert [item["body"] for page in pages for item in page["items"]] == bodies


def test_the_web_list_says_to_look_further_when_a_stretch_had_no_match(api, client_acct, monkeypatch):
    from chalicelib.web import pages as web_pages

    monkeypatch.setattr(dynamo, "FILTERED_READ", 4)
    monkeypatch.setattr(web_pages, "LIST_LIMIT", 1)
    rare = f"rare-{uuid.uuid4().hex[:8]}"
    api.bounty(client_acct["api_key"], tags=[rare])
    for _ in range(5):
        api.bounty(client_acct["api_key"])
    page = api.client.http.get(f"/web/?tag={rare}").body.decode()
    assert "None of the bounties looked through so far match these filters" in page and "Look further →" in page


def test_a_clients_own_bounties_filtered_and_cut_for_size_come_each_once(api, client_acct, monkeypatch):
    tag = f"mine-{uuid.uuid4().hex[:8]}"
    made = [api.bounty(client_acct["api_key"], tags=[tag] if n % 2 else [], description="Ж" * 2000)["id"]
            for n in range(8)]
    one = api.ok("GET", f"/v1/bounties/{made[0]}", key=client_acct["api_key"])
    monkeypatch.setattr(render, "ANSWER_BUDGET_BYTES", 2 * len(json.dumps(json.dumps(one))))
    pages = _every_page(api, f"/v1/bounties?mine=true&tag={tag}&limit=100", key=client_acct["api_key"])
    assert _ids(pages) == [bounty_id for n, bounty_id in reversed(list(enumerate(made))) if n % 2]
    assert len(pages) > 1 and all(len(page["items"]) <= 2 for page in pages)


def test_an_answer_dynamodb_cuts_at_1_mb_makes_a_short_page_never_a_second_query(api, client_acct):
    """A Query answers at most 1 MB: a list of large submissions is paged there, in the request's one Query, rather
    than read on in a second one (past the two calls a request makes)."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=60)
    submitted = [api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions",
                        {"content": f"{n:02} " + "x" * 19_990}, status=201,
                        key=api.account("freelancer")["api_key"])["id"] for n in range(60)]  # ~1.2 MB in all
    for path in (f"/v1/bounties/{bounty['id']}/submissions?limit=100", "/v1/submissions?limit=100"):
        with ReadCounter(m.SubmissionModel._get_connection().connection.client) as reads:
            first = api.ok("GET", path, key=key)
        assert reads.calls == ["Query"], path
        assert 0 < len(first["items"]) < 60 and first["next_cursor"], path
        pages = _every_page(api, path, key)
        assert sorted(_ids(pages)) == sorted(submitted), path


def test_a_thread_over_1_mb_is_read_one_query_a_page_either_way(api, client_acct, freelancer):
    key = client_acct["api_key"]
    bounty = api.bounty(key)
    thread = f"/v1/bounties/{bounty['id']}/messages"
    bodies = [f"{n:02} " + "\U0001f600" * 3990 for n in range(70)]  # 16 KB each: ~1.1 MB in all
    for body in bodies:
        api.ok("POST", thread, {"body": body}, status=201, key=key)
    with ReadCounter(m.MessageModel._get_connection().connection.client) as reads:
        first = api.ok("GET", f"{thread}?limit=100", key=key)
    assert reads.calls == ["Query"] and 0 < len(first["items"]) < 70 and first["next_cursor"]
    pages = _every_page(api, f"{thread}?limit=100", key=key)
    assert [item["body"] for page in pages for item in page["items"]] == bodies
    # The web page opens on the newest messages, read backwards: one Query too, and the way back to the oldest.
    window = deps().repo.message_window(bounty["id"], limit=100)
    assert 0 < len(window.items) < 70 and window.earlier is not None and window.items[-1].body == bodies[-1]
    earlier = deps().repo.message_window(bounty["id"], limit=100, before=window.earlier)
    assert [m.body for m in earlier.items + window.items] == bodies
