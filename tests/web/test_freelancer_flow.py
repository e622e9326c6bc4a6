"""The freelancer's whole journey in real Chromium with JavaScript off: sign in, filter, claim, submit (a refused
submission keeps what was typed), see it pending, then approved and, after payout onboarding, paid."""

from __future__ import annotations

import re
import uuid

from tests.web.conftest import check_phone_layout, shoot, sign_in


def test_find_claim_submit_and_get_paid_without_javascript(http, workers, clock, new_page):
    tag = f"menu-{uuid.uuid4().hex[:6]}"
    client = http.account("client")
    freelancer = http.account("freelancer", name="Ada Freelancer")
    target = http.bounty(client["api_key"], title="Translate a café menu into Spanish",
                         description="Forty dishes.\nKeep the prices as they are.",
                         reward={"amount": 1200, "currency": "usd"}, slots=2, estimated_minutes=30, tags=[tag, "es"])
    cheap = http.bounty(client["api_key"], title="Proofread one sentence", reward={"amount": 100, "currency": "usd"},
                        tags=[tag])
    other_tag = http.bounty(client["api_key"], title="Design a logo", reward={"amount": 5000, "currency": "usd"},
                            tags=[f"logo-{uuid.uuid4().hex[:6]}"])

    page = new_page(javascript=False)
    page.goto("/")
    assert page.url.endswith("/web/")
    page.goto("/web/me")  # signed out: sent to sign in, and back here afterwards
    assert "/web/signin" in page.url
    assert "Sign in with your freelancer API key first." in page.inner_text("#flash")
    shoot(page, "signin")
    page.fill("#api_key", freelancer["api_key"])
    page.click("form.card button[type=submit]")
    assert page.url.endswith("/web/me")
    assert page.inner_text("#flash") == "Signed in as Ada Freelancer."

    # Filter: the tag and a minimum reward of $5 leave exactly the one bounty.
    page.goto("/web/")
    page.fill("#tag", tag)
    page.fill("#min_reward", "5")
    page.click("form.filters button")
    assert f"Filtered by tag “{tag}”, reward at least $5.00." in page.inner_text("main")
    titles = page.locator("article.bounty h2").all_inner_texts()
    assert titles == [target["title"]]
    assert cheap["title"] not in page.content() and other_tag["title"] not in page.content()
    card = page.locator("article.bounty").first.inner_text()
    assert "$12.00" in card and "2 of 2 slots left" in card and "≈ $24.00/h" in card  # 1200 per 30 min
    assert "Deadline" in card
    page.fill("#min_reward", "twelve")
    page.click("form.filters button")
    assert "Minimum reward must be an amount" in page.inner_text("#flash")
    assert page.input_value("#min_reward") == "twelve"
    page.goto(f"/web/?tag={tag}&min_reward=5")
    shoot(page, "bounties")

    # The bounty's page, and a claim.
    page.click(f"text={target['title']}")
    assert page.inner_text("#title") == target["title"]
    assert page.inner_text("#description") == "Forty dishes.\nKeep the prices as they are."
    page.click("#claim button")
    assert page.inner_text("#flash").startswith("Slot claimed.")
    assert "1 of 2 slots left" in page.inner_text("main")
    assert "You hold a slot until" in page.inner_text("#claim")

    # 45 minutes of work later, a refused submission keeps everything typed.
    clock.advance(45 * 60)
    work = "Ensalada de la casa — 8,50 €\nSopa del día — 6,00 €"
    page.fill("#content", work)
    page.fill("#links", "https://example.com/menu-es.pdf\nnot a link")
    page.click("#submit button")
    assert page.inner_text("#flash") == "Links: line 2 is not a full http:// or https:// address."
    assert page.input_value("#content") == work
    assert page.input_value("#links") == "https://example.com/menu-es.pdf\nnot a link"
    page.fill("#links", "https://example.com/menu-es.pdf")
    page.click("#submit button")
    assert re.search(r"/web/submissions/sub_[0-9a-f-]+$", page.url)
    submission_id = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#flash").startswith("Work submitted. It is pending review")
    assert page.inner_text("#status") == "Pending review"
    assert page.inner_text("#content") == work

    # A second submission on the same bounty is refused with the rule's own message, the text kept.
    page.goto(f"/web/bounties/{target['id']}")
    assert page.locator("#submit").count() == 0  # no form while work is pending
    assert "Pending review" in page.inner_text("#my-submissions")
    # The thread with the client opens to those who claimed or submitted.
    page.fill("#message", "Should I translate the wine list too?")
    page.click("#thread button")
    assert page.inner_text("#flash") == "Message posted."
    assert "Should I translate the wine list too?" in page.inner_text("#thread")
    http.ok("POST", f"/v1/bounties/{target['id']}/messages", {"body": "Yes please, same rate."}, status=201,
            key=client["api_key"])
    page.reload()
    assert "Client" in page.inner_text("#thread") and "Yes please, same rate." in page.inner_text("#thread")
    shoot(page, "bounty")

    page.goto("/web/me")
    assert "Pending review" in page.inner_text("#submissions")
    assert "Appears once claimed work is approved." in page.inner_text("#achieved")

    # The client approves through the API; the payout waits for onboarding.
    http.ok("POST", f"/v1/submissions/{submission_id}/approve", {"rating": 5, "feedback": "Muy bien, gracias!"},
            key=client["api_key"])
    workers.drain()
    page.goto(f"/web/submissions/{submission_id}")
    assert page.inner_text("#status") == "Approved"
    assert page.inner_text("#feedback") == "Muy bien, gracias!"
    assert page.inner_text("#payout-status") == "Waiting for your payout set-up"
    assert "Reward $12.00, which makes $16.00/h achieved." in page.inner_text("main")  # $12 for 45 minutes
    shoot(page, "submission")
    # Every freelancer now sees what the bounty really paid per hour, beside the client's estimate.
    page.goto(f"/web/bounties/{target['id']}")
    assert page.inner_text("#achieved-rate") == ("Approved work paid $16.00/h: 1 piece, on average 45 min from "
                                                 "claim to hand-in")
    page.goto(f"/web/?tag={tag}")
    card = page.locator("article.bounty", has_text=target["title"]).inner_text()
    assert "≈ $24.00/h" in card and "Paid $16.00/h to approved work so far" in card

    # Payout onboarding: our button → Stripe's (local) hosted page → back to us; Stripe then says so by webhook.
    page.goto("/web/me")
    assert "$0.00" in page.inner_text("#earned") and "$12.00 approved, not paid yet" in page.inner_text("#earned")
    assert "Waiting for your payout set-up" in page.locator("tr.payout").first.inner_text()
    check_phone_layout(page, "my-work-waiting")  # the longest status beside a title
    page.click("#onboarding button")
    assert "/_config/connect/onboard/" in page.url
    page.click("text=Complete onboarding")
    assert page.url.endswith("/web/onboarding/complete")
    assert page.inner_text("h1") == "Back from Stripe"
    assert page.locator("header >> text=My work").count() == 1  # still signed in after Stripe's site (Lax)
    # The webhook arrives on its own time and then re-queues the payout: run the workers until it is paid.
    def paid() -> bool:
        workers.drain()
        [payout] = http.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]
        return payout["status"] == "paid"

    workers.wait_for(paid, timeout=30)

    page.goto("/web/me")
    assert page.locator("#onboarding").count() == 0
    assert "$12.00" in page.inner_text("#earned") and "not paid yet" not in page.inner_text("#earned")
    assert "Paid" in page.locator("tr.payout").first.inner_text()
    achieved = page.inner_text("#achieved")
    assert "$16.00/h" in achieved and "45 min" in achieved and "1 approved piece" in achieved
    assert "1 approved, rated 5.0/5" in page.inner_text("#record")
    shoot(page, "my-work")

    page.goto(f"/web/submissions/{submission_id}")
    assert page.inner_text("#payout-status") == "Paid"

    # Signing out ends the session.
    page.click("header button")
    assert page.inner_text("#flash") == "Signed out."
    page.goto("/web/me")
    assert "/web/signin" in page.url


def test_refusals_by_the_rules_show_their_message_and_keep_what_was_typed(http, new_page):
    client = http.account("client")
    first, second = http.account("freelancer"), http.account("freelancer")
    bounty = http.bounty(client["api_key"], title="One slot only", slots=1)
    late = new_page(javascript=False)
    sign_in(late, second["api_key"])
    late.goto(f"/web/bounties/{bounty['id']}")  # the form is on screen while the slot is still free

    http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", {}, status=201, key=first["api_key"])

    essay = "I did it anyway:\n<three paragraphs>"
    late.fill("#content", essay)
    late.fill("#links", "https://example.com/a")
    response_status = []
    late.on("response", lambda r: response_status.append(r.status) if r.request.method == "POST" else None)
    late.click("#submit button")
    assert late.inner_text("#flash") == "Every slot of this bounty is taken."
    assert response_status == [409]
    assert late.input_value("#content") == essay and late.input_value("#links") == "https://example.com/a"
    assert "0 of 1 slot left" in late.inner_text("main")

    late.goto(f"/web/bounties/{bounty['id']}")
    assert late.locator("#claim").count() == 0  # no claim button with no slot left
    response = late.request.post(f"/web/bounties/{bounty['id']}/claim",
                                 form={"csrf": late.locator("input[name=csrf]").first.input_value()})
    assert response.status == 409 and "Every slot of this bounty is taken." in response.text()

    late.goto("/web/bounties/bty_does_not_exist")
    assert late.inner_text("h1") == "Not found"
    assert late.inner_text("#flash") == "No bounty bty_does_not_exist exists."
