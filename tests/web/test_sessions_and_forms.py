"""The session's edges: a post from another site leaves it alone, signing out ends it wherever its cookie is, a
form sent after it ended says so and gives back what was typed; and a form's address is never a dead end."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from tests.web.conftest import on_a_bounty_page, shoot, sign_in


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _send(web_base: str, method: str, path: str, *, form: dict | None = None, cookie: str | None = None,
          content_type: str = "application/x-www-form-urlencoded") -> tuple[int, dict, str]:
    """A request as a browser on another site (or one whose cookie is gone) sends it: no cookie unless given."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(web_base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if cookie:
        request.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _session_cookie(page) -> str:
    [cookie] = [c for c in page.context.cookies() if c["name"] == "bb_session"]
    return f"bb_session={cookie['value']}"


def test_a_cross_site_post_without_the_cookie_leaves_the_session_alone(http, new_page, web_base):
    """Browsers withhold a SameSite=Lax cookie from another site's form post: that post is refused, and must not
    sign the freelancer out by setting a fresh session in its answer."""
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    status, headers, _ = _send(web_base, "POST", f"/web/bounties/{bounty['id']}/claim", form={"note": "x"})
    assert status == 403 and "Set-Cookie" not in headers
    page.goto("/web/me")
    assert page.url.endswith("/web/me")
    assert http.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"] == []


def test_signing_out_ends_the_session_wherever_its_cookie_is(http, new_page, web_base):
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    copied, token = _session_cookie(page), page.locator("#claim input[name=csrf]").input_value()
    other_device = new_page(javascript=False)
    sign_in(other_device, freelancer["api_key"])
    page.click("header button")
    assert page.inner_text("#flash") == "Signed out."

    status, headers, _ = _send(web_base, "GET", "/web/me", cookie=copied)
    assert status == 303 and "/web/signin" in headers["Location"]
    status, headers, _ = _send(web_base, "POST", f"/web/bounties/{bounty['id']}/claim", form={"csrf": token},
                               cookie=copied)
    # To sign in, then back to the form's page.
    assert status == 303 and headers["Location"] == "/web/signin?" + urllib.parse.urlencode(
        {"next": f"/web/bounties/{bounty['id']}"})
    assert http.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"] == []
    other_device.goto("/web/me")  # sessions of the key signed in before the sign-out end too
    assert "/web/signin" in other_device.url

    sign_in(page, freelancer["api_key"])  # signing in again works at once
    page.goto("/web/me")
    assert page.url.endswith("/web/me")


def test_a_form_sent_after_the_session_ended_says_so_and_gives_back_what_was_typed(http, new_page, web_base):
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    page.click("#claim button")
    essay = "Three careful paragraphs <b>of work</b>\nand a second line."
    page.fill("#content", essay)
    page.fill("#links", "https://example.com/work")
    page.context.clear_cookies()  # the session ran out (12 hours) while the freelancer typed
    page.click("#submit button")
    assert page.inner_text("h1") == "Session ended"
    assert "Your session has ended" in page.inner_text("#flash")
    assert page.locator("#kept textarea").nth(0).input_value() == essay
    assert page.locator("#kept textarea").nth(1).input_value() == "https://example.com/work"
    shoot(page, "session-ended")
    page.click("#signin-again")
    assert "/web/signin" in page.url
    page.fill("#api_key", freelancer["api_key"])
    page.click("form.card button[type=submit]")
    assert page.url.endswith(f"/web/bounties/{bounty['id']}")  # back where the form was


def test_work_typed_while_the_session_was_ended_elsewhere_is_given_back(http, new_page, web_base):
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    essay = "Typed on the phone while the laptop signed out."
    page.fill("#content", essay)
    laptop = new_page(javascript=False)
    sign_in(laptop, freelancer["api_key"])
    laptop.click("header button")  # ends every session of the key, this one too
    page.click("#submit button")
    assert page.inner_text("h1") == "Signed out"
    assert "What you wrote was not sent." in page.inner_text("#flash")
    assert page.locator("#kept textarea").nth(0).input_value() == essay
    page.click("#signin-again")
    page.fill("#api_key", freelancer["api_key"])
    page.click("form.card button[type=submit]")
    assert page.url.endswith(f"/web/bounties/{bounty['id']}")
    assert http.ok("GET", "/v1/submissions", key=freelancer["api_key"])["items"] == []


def test_work_typed_while_the_bounty_closed_is_given_back(http, new_page):
    client, freelancer = http.account("client"), http.account("freelancer")
    claimed, unclaimed = http.bounty(client["api_key"]), http.bounty(client["api_key"])
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    essay = "Finished just as the client cancelled."
    for bounty in (claimed, unclaimed):
        page.goto(f"/web/bounties/{bounty['id']}")
        if bounty is claimed:
            page.click("#claim button")
        page.fill("#content", essay)
        page.fill("#links", "https://example.com/done")
        http.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=client["api_key"])
        page.click("#submit button")
        assert page.locator("#submit").count() == 0  # no form to send it with any more
        assert page.locator("#kept textarea").nth(0).input_value() == essay
        assert page.locator("#kept textarea").nth(1).input_value() == "https://example.com/done"
        if bounty is claimed:  # the bounty's page, saying why
            assert "cancelled" in page.inner_text("#flash") and page.inner_text("h1") == bounty["title"]
        else:  # a closed bounty they never took part in is not shown to them (as in the API): a page of its own
            assert page.inner_text("h1") == "Not found"


def test_a_forms_address_opened_as_a_page_goes_to_the_page_of_the_form(http, web_base):
    client = http.account("client")
    bounty = http.bounty(client["api_key"])
    for path, target in ((f"/web/bounties/{bounty['id']}/submissions", f"/web/bounties/{bounty['id']}"),
                         (f"/web/bounties/{bounty['id']}/claim", f"/web/bounties/{bounty['id']}"),
                         (f"/web/bounties/{bounty['id']}/messages", f"/web/bounties/{bounty['id']}"),
                         ("/web/claims/clm_x/release", "/web/me"), ("/web/signout", "/web/"),
                         ("/web/onboarding", "/web/me")):
        status, headers, _ = _send(web_base, "GET", path)
        assert (status, headers["Location"]) == (303, target), path
    # An id holding a '../' (API Gateway hands path parameters over decoded) stays one quoted segment.
    from chalicelib.web import edge

    location = edge.form_page(lambda bounty_id: f"/web/bounties/{bounty_id}", {"bounty_id": "../../v1/accounts/me"})
    assert location == "/web/bounties/..%2F..%2Fv1%2Faccounts%2Fme"


def test_a_form_post_of_another_content_type_gets_a_page(http, web_base):
    status, headers, body = _send(web_base, "POST", "/web/signin", form={"api_key": "x"},
                                  content_type="application/json")
    assert status == 415 and headers["Content-Type"].startswith("text/html") and "Not a form" in body


def test_after_sign_in_only_pages_of_the_web_form_are_gone_to(web_base):
    from chalicelib.web import edge

    for target in ("/web/me", "/web/bounties/bty_1?x=1", "/web/"):
        assert edge.safe_next(target) == target
    for target in ("//evil.example/web/", "https://evil.example/web/", "/web@evil", "/v1/accounts/me",
                   "/web/../v1/accounts/me", "/web/%2e%2e/v1/accounts/me", "/web/./me", "\\\\evil", None, ""):
        assert edge.safe_next(target) == "/web/", target


def test_a_next_page_with_characters_a_header_cannot_hold_is_percent_encoded(web_base):
    from chalicelib.web import edge

    assert edge.safe_next("/web/bounties/ā b?tag=ménage") == "/web/bounties/%C4%81%20b?tag=m%C3%A9nage"
    assert edge.safe_next("/web/?tag=a%20b") == "/web/?tag=a%20b"


def test_signing_in_to_a_next_page_of_other_characters_leads_there(http, new_page):
    freelancer = http.account("freelancer")
    page = new_page(javascript=False)
    page.goto("/web/signin?next=%2Fweb%2F%3Ftag%3Dm%C3%A9nage")
    page.fill("#api_key", freelancer["api_key"])
    page.click("form.card button[type=submit]")
    assert page.url.endswith("/web/?tag=m%C3%A9nage")
    assert page.locator("#flash").inner_text().startswith("Signed in as")


def test_a_token_or_cookie_of_other_characters_is_refused_as_any_wrong_one(web_base):
    status, _, body = _send(web_base, "POST", "/web/signout", form={"csrf": "é"})
    assert status == 403 and body.startswith("<!doctype html>")
    for cookie in ("bb_session=x.é", "bb_flash=abc.é", "bb_session=é"):
        status, headers, body = _send(web_base, "GET", "/web/", cookie=cookie)
        assert status == 200 and headers["Content-Type"].startswith("text/html"), (cookie, status, body[:200])


def test_a_minimum_reward_that_is_not_an_amount_says_so_and_claims_no_filter(http, new_page):
    page = new_page(javascript=False)
    page.goto("/web/?min_reward=abc")
    assert page.locator("#flash").count() == 1
    assert "Show all" not in page.inner_text("main")


def test_a_session_ended_already_cannot_end_its_owners_newer_ones(http, new_page, web_base):
    """A copied cookie, ended by its owner's sign-out, posts sign-out itself: that changes nothing, so whoever holds
    the copy cannot keep signing the owner out."""
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    copied, token = _session_cookie(page), page.locator("header input[name=csrf]").input_value()
    page.click("header button")
    fresh = new_page(javascript=False)
    sign_in(fresh, freelancer["api_key"])
    status, _, _ = _send(web_base, "POST", "/web/signout", form={"csrf": token}, cookie=copied)
    assert status == 303
    fresh.goto("/web/me")
    assert fresh.url.endswith("/web/me")


def test_a_stale_or_edited_list_link_starts_the_list_again_saying_so(http, web_base):
    http.bounty(http.account("client")["api_key"])
    status, _, page = _send(web_base, "GET", "/web/?cursor=garbage&tag=")
    assert status == 200 and "out of date" in page
    assert 'class="card bounty"' in page and 'role="search"' in page  # the list and its filters, not a dead end


def test_work_as_long_as_its_box_takes_is_taken_whatever_its_line_breaks(http, new_page):
    """The box's maxlength counts a line break as one character; the browser sends it as two (CR LF)."""
    bounty, freelancer, page = on_a_bounty_page(http, new_page)
    line = "x" * 99 + "\n"
    essay = line * 199 + "y" * 100  # 20,000 characters, 199 line breaks: 20,199 as the browser sends them
    page.fill("#content", essay)
    page.click("#submit button")
    assert "Work submitted" in page.inner_text("#flash"), page.inner_text("main")
    [submission] = http.ok("GET", "/v1/submissions", key=freelancer["api_key"])["items"]
    assert submission["content"] == essay
