"""Attacks tried in the browser: script in user-written text, a cross-site form post, another freelancer's
submission by URL; and the session cookie's and sign-in's own guarantees."""

from __future__ import annotations

import time
import uuid

from tests.web.conftest import shoot, sign_in

TITLE = '<script>alert("title")</script> Fix <b>bold</b> "quotes" & ampersands'
DESCRIPTION = ("<img src=x onerror=alert('description')>\n<script>console.log('xss-ran')</script>\n"
               '<a href="javascript:alert(1)" onmouseover="alert(2)">hover me</a>')
MESSAGE = "<svg onload=alert('message')></svg><script>alert('message')</script>"


def _watch(page) -> list[str]:
    """Every dialog (alert, confirm, ...), script error and console line the page produces (but Chromium's own
    verbose DOM advice)."""
    events: list[str] = []
    page.on("dialog", lambda dialog: (events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda message: message.type == "verbose" or events.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: events.append(f"error: {error}"))
    return events


def test_user_written_text_is_shown_as_text_and_runs_nothing(http, new_page):
    client = http.account("client")
    freelancer = http.account("freelancer", name='<img src=x onerror=alert("name")>')
    tag = f"xss-{uuid.uuid4().hex[:6]}"
    bounty = http.bounty(client["api_key"], title=TITLE, description=DESCRIPTION, tags=[tag])

    page = new_page(javascript=True)  # scripts allowed: anything injected would run
    events = _watch(page)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/?tag={tag}")
    assert page.locator("article.bounty h2").inner_text() == TITLE
    page.click("article.bounty h2 a")
    assert page.url.endswith(f"/web/bounties/{bounty['id']}")
    assert page.inner_text("#title") == TITLE
    assert page.inner_text("#description") == DESCRIPTION
    assert page.locator("main script, main img, main svg, main b").count() == 0
    assert page.locator("#description a").count() == 0

    page.click("#claim button")
    page.fill("#message", MESSAGE)
    page.click("#thread button")
    assert MESSAGE in page.inner_text("#thread")
    page.fill("#content", DESCRIPTION)
    page.click("#submit button")
    assert page.inner_text("#content") == DESCRIPTION
    submission_id = page.url.rsplit("/", 1)[1]
    http.ok("POST", f"/v1/submissions/{submission_id}/reject", {"reason": MESSAGE}, key=client["api_key"])
    page.reload()
    assert page.inner_text("#reason") == MESSAGE
    page.goto("/web/me")
    assert TITLE in page.inner_text("#submissions") and MESSAGE in page.inner_text("#submissions")
    assert page.locator("main script, main img, main svg").count() == 0
    assert events == [], events


def test_a_cross_site_form_post_without_the_token_is_refused(http, new_page, cross_site):
    client = http.account("client")
    freelancer = http.account("freelancer")
    bounty = http.bounty(client["api_key"], title="Worth stealing a slot for")
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])

    # Another origin (same machine, so the SameSite=Lax cookie is even sent) posts the claim form.
    cross_site.page = (f'<!doctype html><form method="post" action="{page.url.split("/web/")[0]}/web/bounties/'
                       f'{bounty["id"]}/claim"><input name="note" value="free money"><button>Win</button></form>')
    page.goto(cross_site.url)
    page.click("button")
    assert page.inner_text("h1") == "Form refused"
    assert "This form was refused" in page.inner_text("#flash")
    shoot(page, "refused")

    # A forged or stale token, sent with the real session cookie, is refused too.
    response = page.request.post(f"/web/bounties/{bounty['id']}/claim", form={"csrf": "0" * 64})
    assert response.status == 403 and "This form was refused" in response.text()
    # Nothing was claimed.
    assert http.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"] == []
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1

    # The token of the page itself works (so the refusals above were the token's doing).
    page.goto(f"/web/bounties/{bounty['id']}")
    page.click("#claim button")
    assert page.inner_text("#flash").startswith("Slot claimed.")
    page.click("text=Release my claim")
    assert page.inner_text("#flash") == "Claim released; the slot is open to others again."
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1


def test_a_token_from_before_sign_in_is_useless_after_it(http, new_page):
    freelancer = http.account("freelancer")
    page = new_page(javascript=False)
    page.goto("/web/signin")
    anonymous_token = page.locator("input[name=csrf]").first.input_value()
    sign_in(page, freelancer["api_key"])
    response = page.request.post("/web/signout", form={"csrf": anonymous_token})
    assert response.status == 403


def test_another_freelancers_submission_is_not_reachable_by_url(http, new_page):
    client = http.account("client")
    author = http.account("freelancer")
    snoop = http.account("freelancer")
    bounty = http.bounty(client["api_key"], slots=2)
    secret_work = f"my private answer {uuid.uuid4().hex}"
    submission = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": secret_work}, status=201,
                         key=author["api_key"])

    page = new_page(javascript=False)
    sign_in(page, snoop["api_key"])
    response = page.goto(f"/web/submissions/{submission['id']}")
    assert response.status == 404
    assert page.inner_text("h1") == "Not found"
    assert secret_work not in page.content()
    assert page.inner_text("#flash") == f"No submission {submission['id']} exists."
    shoot(page, "not-found")
    page.goto("/web/me")
    assert secret_work not in page.content() and "Nothing submitted yet." in page.inner_text("#submissions")
    # Nor the thread of a bounty the snoop never worked on.
    page.goto(f"/web/bounties/{bounty['id']}")
    assert page.locator("#thread").count() == 0
    response = page.request.post(f"/web/bounties/{bounty['id']}/messages",
                                 form={"csrf": page.locator("input[name=csrf]").first.input_value(), "body": "hi"})
    assert response.status == 404 and "No message thread" in response.text()
    assert "hi" not in [m["body"] for m in http.ok("GET", f"/v1/bounties/{bounty['id']}/messages",
                                                   key=client["api_key"])["items"]]

    # The author sees it.
    author_page = new_page(javascript=False)
    sign_in(author_page, author["api_key"])
    assert author_page.goto(f"/web/submissions/{submission['id']}").status == 200
    assert author_page.inner_text("#content") == secret_work


def test_session_cookie_is_signed_http_only_and_same_site(http, new_page, web_base):
    freelancer = http.account("freelancer")
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    [cookie] = [c for c in page.context.cookies() if c["name"] == "bb_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # STAGE=test is served over plain HTTP; deployed stages add Secure
    assert freelancer["api_key"] not in cookie["value"]

    # Altering the cookie by one character signs the visitor out.
    body, mac = cookie["value"].split(".")
    forged = dict(cookie, value=f"{body}.{'0' if mac[0] != '0' else '1'}{mac[1:]}")
    page.context.add_cookies([forged])
    page.goto("/web/me")
    assert "/web/signin" in page.url


def test_sign_in_refuses_unknown_keys_and_client_keys_with_a_message(http, new_page):
    client = http.account("client")
    page = new_page(javascript=False)
    page.goto("/web/signin")
    page.fill("#api_key", "bk_not-a-real-key")
    page.click("form.card button[type=submit]")
    assert page.inner_text("#flash") == "This API key is not valid; check it or create a new account."
    page.fill("#api_key", client["api_key"])
    page.click("form.card button[type=submit]")
    assert page.inner_text("#flash") == "This form is for freelancers; client accounts use the API."
    assert page.locator("header >> text=Sign in").count() == 1


REVOKED = ("You were signed out: you signed out of this session elsewhere, or the API key you signed in with "
           "was revoked.")


def _revoke_first_key(http, freelancer: dict) -> dict:
    """Revokes the key the freelancer signed up with; returns the spare key that stays live."""
    [key] = http.ok("GET", "/v1/accounts/me/keys", key=freelancer["api_key"])["items"]
    spare = http.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=freelancer["api_key"])
    http.ok("DELETE", f"/v1/accounts/me/keys/{key['id']}", key=spare["api_key"])
    return spare


def _signed_in_with_a_revoked_key(http, new_page):
    freelancer = http.account("freelancer")
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    _revoke_first_key(http, freelancer)
    return page


def test_revoking_the_key_ends_the_web_session(http, new_page):
    page = _signed_in_with_a_revoked_key(http, new_page)
    page.goto("/web/")
    assert page.inner_text("#flash") == REVOKED
    assert page.locator("header >> text=Sign in").count() == 1
    page.goto("/web/me")
    assert "/web/signin" in page.url


def test_a_page_for_the_signed_in_sends_a_revoked_key_to_sign_in_with_the_reason(http, new_page):
    page = _signed_in_with_a_revoked_key(http, new_page)
    page.goto("/web/me")
    assert "/web/signin" in page.url and "next=" in page.url
    assert page.inner_text("#flash") == REVOKED


def test_signing_in_again_with_a_new_key_works_from_a_session_whose_key_was_revoked(http, new_page):
    freelancer = http.account("freelancer")
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto("/web/")
    token = page.locator("input[name=csrf]").first.input_value()  # the signed-in session's token
    spare = _revoke_first_key(http, freelancer)
    response = page.request.post("/web/signin", form={"csrf": token, "api_key": spare["api_key"], "next": "/web/me"},
                                 max_redirects=0)
    assert response.status == 303 and response.headers["location"].endswith("/web/me")
    page.goto("/web/me")
    assert page.url.endswith("/web/me") and page.inner_text("#flash").startswith("Signed in as")


def test_a_form_sent_with_a_revoked_key_changes_nothing_and_signs_out(http, new_page):
    """The key is checked in the form's first read (the session names it by its keyed hash), so the claim is
    refused before anything is written."""
    client = http.account("client")
    freelancer = http.account("freelancer")
    bounty = http.bounty(client["api_key"])
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    spare = _revoke_first_key(http, freelancer)
    page.click("#claim button[type=submit]")
    assert "/web/signin" in page.url
    assert page.inner_text("#flash") == REVOKED
    assert http.ok("GET", "/v1/claims", key=spare["api_key"])["items"] == []
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == bounty["slots"]


def test_a_session_begun_before_sessions_kept_the_key_hash_works_until_the_key_is_revoked(http, new_page,
                                                                                          web_base):
    from chalicelib.web import session

    freelancer = http.account("freelancer")
    [key] = http.ok("GET", "/v1/accounts/me/keys", key=freelancer["api_key"])["items"]
    earlier = session.sign(session.COOKIE, {
        "nonce": "an-earlier-release-nonce", "expires": int(time.time()) + 3600, "account_id": freelancer["id"],
        "role": "freelancer", "key_id": key["id"], "name": "Earlier"})
    page = new_page(javascript=False)
    page.context.add_cookies([{"name": session.COOKIE, "value": earlier, "url": web_base}])
    page.goto("/web/me")
    assert page.url.endswith("/web/me")
    _revoke_first_key(http, freelancer)
    page.goto("/web/")
    assert page.inner_text("#flash") == REVOKED
