"""A form sent twice acts once (chalicelib/web/once.py): a double tap, or a browser sending a form again after its
answer was lost on a phone's network, goes where the first went, with the same message, instead of claiming,
handing in or posting twice, or telling of a conflict with what had in fact succeeded."""

from __future__ import annotations

from tests.web.conftest import on_a_bounty_page


def _fields(page, form: str) -> dict[str, str]:
    """The hidden fields of one of the page's forms, as the browser would send them."""
    names = page.eval_on_selector_all(f"{form} input[type=hidden]", "els => els.map(e => [e.name, e.value])")
    return dict(names)


def _send_twice(page, path: str, form: dict[str, str]) -> list:
    answers = [page.request.post(path, form=form, max_redirects=0) for _ in range(2)]
    assert [a.status for a in answers] == [303, 303], [a.text() for a in answers]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    return answers


def _flash(answer) -> str:
    return answer.headers["set-cookie"].split("bb_flash=", 1)[1].split(";", 1)[0]


def test_claim_submit_message_and_release_sent_twice_each_act_once(http, new_page):
    bounty, freelancer, page = on_a_bounty_page(http, new_page, slots=2)
    fkey = freelancer["api_key"]
    base = f"/web/bounties/{bounty['id']}"
    claimed = _send_twice(page, f"{base}/claim", _fields(page, "form#claim"))
    assert _flash(claimed[0]) == _flash(claimed[1])  # the same "Slot claimed" message, not "you already hold"
    [claim] = http.ok("GET", "/v1/claims", key=fkey)["items"]
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1

    page.goto(base)
    work = {**_fields(page, "form#submit"), "content": "Done: all of it.", "links": "https://example.com/a"}
    submitted = _send_twice(page, f"{base}/submissions", work)
    [submission] = http.ok("GET", "/v1/submissions", key=fkey)["items"]
    assert submitted[0].headers["location"].endswith(f"/web/submissions/{submission['id']}")

    page.goto(base)
    note = {**_fields(page, "#thread form"), "body": "Sent twice, shown once."}
    _send_twice(page, f"{base}/messages", note)
    thread = http.ok("GET", f"/v1/bounties/{bounty['id']}/messages", key=fkey)["items"]
    assert [m["body"] for m in thread] == ["Sent twice, shown once."]
    [claim] = http.ok("GET", "/v1/claims", key=fkey)["items"]
    assert claim["status"] == "used"  # by the one submission


def test_a_release_sent_twice_says_released_both_times(http, new_page):
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    page.click("#claim button")
    page.wait_for_selector("#claim form")  # the page after the claim, with its release form
    [claim] = http.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"]
    released = _send_twice(page, f"/web/claims/{claim['id']}/release", _fields(page, "#claim form"))
    assert _flash(released[0]) == _flash(released[1])
    assert len(_fields(page, "#claim form")) == 2  # what was sent: the token and the form's key
    [claim] = http.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"]
    assert claim["status"] == "released"


def test_a_refused_form_keeps_nothing_so_the_same_form_fixed_is_sent(http, new_page):
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    base = f"/web/bounties/{bounty['id']}"
    form = _fields(page, "form#submit")
    refused = page.request.post(f"{base}/submissions", form={**form, "content": "x", "links": "not a link"},
                                max_redirects=0)
    assert refused.status == 422 and "Links: line 1 is not a full" in refused.text()
    fixed = page.request.post(f"{base}/submissions", form={**form, "content": "x", "links": ""}, max_redirects=0)
    assert fixed.status == 303
    # The same form, sent once more with other content after it succeeded: refused, what was typed given back.
    other = page.request.post(f"{base}/submissions", form={**form, "content": "something else"}, max_redirects=0)
    assert other.status == 409 and "This form was sent already, with other content" in other.text()
    assert "something else" in other.text()
    assert len(http.ok("GET", "/v1/submissions", key=freelancer["api_key"])["items"]) == 1
