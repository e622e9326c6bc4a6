"""Every page state a freelancer meets, checked with axe-core (through axe-playwright-python) at phone and desktop
width: the WCAG 2.0, 2.1 and 2.2 A and AA rules and axe's best practices (landmarks, heading order, ...). Any
violation fails the test, named by its rule, its impact and the elements it was found on, for every state at once.

Beside axe, what it cannot see: the page reflows at 320 CSS px (WCAG 1.4.10) without sideways scrolling; Tab
reaches every link, button and field in turn, each showing a focus ring of its own (2.1.1, 2.4.7) rather than
the browser's faint default; a refused form names the refusal in the page's title, and the field it concerns
is marked invalid and described by the message (3.3.1).

The pages have no JavaScript; axe itself needs it, so these pages are opened with JavaScript on (it changes
nothing on a page without scripts) and axe is put into each page by Playwright, not by the page."""

from __future__ import annotations

import re
import uuid

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.web.conftest import WIDTHS, sign_in

REFLOW_WIDTH = 320
# A focus ring of its own: an outline at least this wide, of a style other than the browser's "auto".
FOCUS_RING_PX = 2
RULE_SETS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
OPTIONS = {"runOnly": {"type": "tag", "values": RULE_SETS}, "resultTypes": ["violations"]}


class Audit:
    """axe on each page state at each width; the violations of every state, reported together at the end."""

    def __init__(self):
        self.axe = Axe()
        self.found: list[str] = []
        self.states: list[str] = []

    def check(self, page, state: str) -> None:
        self.states.append(state)
        for label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            results = self.axe.run(page, options=OPTIONS).response
            for violation in results["violations"]:
                elements = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
                more = len(violation["nodes"]) - 5
                self.found.append(f"{state} ({label}, {page.url}): {violation['id']} [{violation['impact']}] "
                                  f"{violation['help']} — {elements}{f' and {more} more' if more > 0 else ''}")
        page.set_viewport_size({"width": REFLOW_WIDTH, "height": WIDTHS["phone"][1]})
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > REFLOW_WIDTH:
            self.found.append(f"{state}: {wide}px wide at {REFLOW_WIDTH}px, so it scrolls sideways (1.4.10 reflow)")
        self._tab_through(page, state)
        page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})

    def _tab_through(self, page, state: str) -> None:
        """Tab from the top of the page to its end: every focusable element in turn, each with its own ring."""
        focusable = page.evaluate("""() => [...document.querySelectorAll(
            'a[href], button, input:not([type=hidden]), textarea, select, [tabindex]')]
            .filter(e => e.getClientRects().length && !e.disabled).length""")
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.evaluate("window.scrollTo(0, 0)")
        reached, unringed = 0, []
        for _ in range(focusable + 1):
            page.keyboard.press("Tab")
            focused = page.evaluate("""(least) => {
                const e = document.activeElement;
                if (!e || e === document.body) return null;
                const s = getComputedStyle(e);
                const ringed = s.outlineStyle !== 'none' && s.outlineStyle !== 'auto'
                               && parseFloat(s.outlineWidth) >= least;
                return {ringed, name: `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${
                    (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 30)}"`};
            }""", FOCUS_RING_PX)
            if focused is None:
                break
            reached += 1
            if not focused["ringed"]:
                unringed.append(focused["name"])
        if reached < focusable:
            self.found.append(f"{state}: Tab reached {reached} of {focusable} links, buttons and fields (2.1.1)")
        if unringed:
            self.found.append(f"{state}: no focus ring of {FOCUS_RING_PX}px or more on {unringed} (2.4.7)")

    def assert_clean(self) -> None:
        assert self.states, "no page was checked"
        assert not self.found, f"{len(self.found)} accessibility violations:\n" + "\n".join(self.found)


def assert_refusal_told(page, field: str | None) -> None:
    """A refused form: the title says so first, and the field the message names is invalid and described by it."""
    message = page.inner_text("#flash")
    assert page.title().startswith("Error: "), page.title()
    assert page.get_attribute("#flash", "role") == "alert"
    if field is not None:
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}")).to_have_accessible_description(re.compile(re.escape(message)))


def test_pages_seen_signed_out(http, new_page):
    client = http.account("client")
    bounty = http.bounty(client["api_key"], title="Caption a short video", estimated_minutes=20, tags=["video"])
    audit = Audit()
    page = new_page()

    page.goto("/web/")
    audit.check(page, "open bounties, signed out")
    page.goto("/web/?min_reward=twelve")
    assert "Minimum reward must be an amount" in page.inner_text("#flash")
    assert_refusal_told(page, "min_reward")
    audit.check(page, "open bounties, filter refused")
    page.goto("/web/?q=caption%20video")
    assert "Filtered with the words" in page.inner_text("main")
    audit.check(page, "open bounties, searched")
    page.goto("/web/?q=" + "x" * 101)
    assert_refusal_told(page, "q")
    audit.check(page, "open bounties, search refused")
    page.goto(f"/web/bounties/{bounty['id']}")
    audit.check(page, "a bounty, signed out")
    picky = http.bounty(client["api_key"], title="Review a contract", requirements={"min_completed": 5})
    page.goto(f"/web/bounties/{picky['id']}")
    audit.check(page, "a bounty with requirements, signed out")
    page.goto("/web/me")  # sent to sign in, saying so
    assert "/web/signin" in page.url
    audit.check(page, "sign in, sent there")
    page.fill("#api_key", "bb_not_a_key")
    page.click("form.card button[type=submit]")
    assert page.locator("#flash.error").count() == 1
    assert_refusal_told(page, "api_key")
    audit.check(page, "sign in, refused")
    page.goto("/web/bounties/bty_does_not_exist")
    assert page.inner_text("h1") == "Not found"
    audit.check(page, "message: not found")
    page.goto("/web/onboarding/complete")
    audit.check(page, "onboarding: back from Stripe")
    page.goto("/web/onboarding/refresh")
    audit.check(page, "onboarding: link expired")
    audit.assert_clean()


def test_pages_of_the_whole_journey(http, workers, clock, new_page):
    tag = f"a11y-{uuid.uuid4().hex[:6]}"
    client = http.account("client")
    freelancer = http.account("freelancer", name="Grace Freelancer")
    target = http.bounty(client["api_key"], title="Transcribe a podcast episode", description="Twelve minutes.",
                         reward={"amount": 1500, "currency": "usd"}, slots=2, estimated_minutes=60,
                         claim_seconds=3600, tags=[tag])
    rejected = http.bounty(client["api_key"], title="Name a bakery", tags=[tag])
    held = http.bounty(client["api_key"], title="Sort a photo archive", tags=[tag])
    audit = Audit()
    page = new_page()
    sign_in(page, freelancer["api_key"])

    page.goto("/web/me")
    assert "Nothing submitted yet." in page.inner_text("#submissions")
    expect(page.locator("header [aria-current=page]")).to_have_text("My work")  # where they are, said
    audit.check(page, "my work, empty")
    page.goto(f"/web/?tag={tag}")
    audit.check(page, "open bounties, signed in")
    picky = http.bounty(client["api_key"], title="Audit a ledger", requirements={"min_rating": 4.5})
    page.goto(f"/web/bounties/{picky['id']}")
    assert page.locator("#not-qualified").count() == 1
    audit.check(page, "a bounty, short of its requirements")
    page.goto("/web/?min_reward=-3")
    assert_refusal_told(page, "min_reward")
    audit.check(page, "open bounties, signed in, filter refused")

    page.goto(f"/web/bounties/{target['id']}")
    audit.check(page, "a bounty, before claiming")
    page.click("#claim button")
    assert page.inner_text("#flash").startswith("Slot claimed.")
    audit.check(page, "a bounty, with a live claim")

    clock.advance(40 * 60)
    page.fill("#content", "Transcript, speaker by speaker.")
    page.fill("#links", "not a link")
    page.click("#submit button")
    assert page.input_value("#links") == "not a link"
    assert_refusal_told(page, "links")
    assert page.get_attribute("#content", "aria-invalid") is None  # the work itself was fine
    audit.check(page, "a bounty, submission refused, text kept")
    page.fill("#links", "https://example.com/transcript.txt")
    page.click("#submit button")
    submission_id = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#status") == "Pending review"
    audit.check(page, "a submission, pending")

    page.goto(f"/web/bounties/{target['id']}")
    page.fill("#message", "Timestamps every minute?")
    page.click("#thread button")
    http.ok("POST", f"/v1/bounties/{target['id']}/messages", {"body": "Yes, thanks."}, status=201,
            key=client["api_key"])
    page.reload()
    assert "Yes, thanks." in page.inner_text("#thread")
    audit.check(page, "a bounty, submitted, with the thread")

    http.ok("POST", f"/v1/submissions/{submission_id}/approve", {"rating": 4, "feedback": "Clean work."},
            key=client["api_key"])
    workers.drain()
    page.goto(f"/web/submissions/{submission_id}")
    assert page.inner_text("#status") == "Approved"
    assert "/h achieved" in page.inner_text("main")
    audit.check(page, "a submission, approved, with a rate")

    other = http.ok("POST", f"/v1/bounties/{rejected['id']}/submissions", {"content": "Crumb & Co."},
                    key=freelancer["api_key"], status=201)
    http.ok("POST", f"/v1/submissions/{other['id']}/reject", {"reason": "Taken already."}, key=client["api_key"])
    page.goto(f"/web/submissions/{other['id']}")
    audit.check(page, "a submission, rejected")
    page.goto(f"/web/bounties/{held['id']}")
    page.click("#claim button")
    page.goto("/web/me")
    assert page.locator("tr.payout").count() == 1 and page.locator("p.claim").count() >= 2
    audit.check(page, "my work, with claims, submissions and a payout")
    audit.assert_clean()


def test_pages_of_refused_forms(http, new_page):
    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.bounty(client["api_key"])
    audit = Audit()
    page = new_page()
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")

    # The same browser signs out and in again in another tab: this tab's form is of an earlier session.
    other_tab = page.context.new_page()
    other_tab.goto("/web/")
    other_tab.click("header button")
    sign_in(other_tab, freelancer["api_key"])
    page.fill("#content", "Typed before the other tab signed in again.")
    page.click("#submit button")
    assert page.inner_text("h1") == "Form refused"
    assert_refusal_told(page, None)
    audit.check(page, "message: form refused")

    page.goto(f"/web/bounties/{bounty['id']}")
    page.fill("#content", "Typed as the session ran out.")
    page.context.clear_cookies()
    page.click("#submit button")
    assert page.inner_text("h1") == "Session ended"
    assert_refusal_told(page, None)
    audit.check(page, "message: session ended")
    audit.assert_clean()
