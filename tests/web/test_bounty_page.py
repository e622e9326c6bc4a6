"""A bounty's page lists the freelancer's own submissions to it from their participant record, read with the bounty:
no Query of their submissions, and records of an earlier release (no list kept) still show every one."""

from __future__ import annotations

import uuid

from chalicelib.adapters import dynamo_models as m
from chalicelib.services import work
from tests.web.conftest import sign_in


def _listed(page) -> list[str]:
    return [line.split("— ")[-1].strip() for line in page.locator("#my-submissions p.card").all_inner_texts()]


def test_the_page_lists_each_submission_with_its_status_without_asking_the_index(http, new_page, monkeypatch):
    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.bounty(client["api_key"], slots=2)
    first = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "Try one."},
                    key=freelancer["api_key"], status=201)
    http.ok("POST", f"/v1/submissions/{first['id']}/reject", {"reason": "Boxes missing."}, key=client["api_key"])
    second = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "Try two."},
                     key=freelancer["api_key"], status=201)
    asked = []
    real = work.list_my_submissions
    monkeypatch.setattr(work, "list_my_submissions", lambda *a, **kw: asked.append(1) or real(*a, **kw))

    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    assert _listed(page) == ["Pending review", "Rejected"]  # newest first
    links = page.locator("#my-submissions a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links == [f"/web/submissions/{second['id']}", f"/web/submissions/{first['id']}"]
    assert asked == []

    http.ok("POST", f"/v1/submissions/{second['id']}/approve", {"rating": 5}, key=client["api_key"])
    page.reload()
    assert _listed(page) == ["Approved", "Rejected"]
    assert asked == []

    # The same record as an earlier release left it, without the list: the page asks the index instead.
    m.ParticipantModel(bounty["id"], freelancer["id"]).update(actions=[m.ParticipantModel.submissions.remove()])
    page.reload()
    assert _listed(page) == ["Approved", "Rejected"]
    assert asked == [1]


def test_a_cancelled_bounty_shows_no_claim_held_even_before_its_timer_ends_it(http, new_page):
    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.bounty(client["api_key"], slots=2)
    http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=freelancer["api_key"], status=201)
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    assert "You hold a slot" in page.locator("#claim").inner_text()

    http.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=client["api_key"])
    page.reload()
    assert page.locator("#claim").count() == 0
    assert "cancelled" in page.locator("main").inner_text().lower()
    assert "(in " not in page.locator(".facts").inner_text()  # no countdown to a deadline that no longer counts


def test_a_long_thread_opens_on_its_newest_messages_and_pages_both_ways(http, new_page):
    """A thread past one page (100) showed its oldest, so a message just posted, and the client's latest replies,
    were out of sight."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.bootstrap import deps
    from chalicelib.core.model import Message

    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.bounty(client["api_key"])
    http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=freelancer["api_key"], status=201)
    start = datetime.now(UTC) - timedelta(hours=2)

    def note(n: int) -> Message:  # ids as new_id makes them (time first), a second apart
        at = start + timedelta(seconds=n)
        return Message(bounty_id=bounty["id"], id=f"msg_{int(at.timestamp() * 1000):011x}{n:016x}",
                       author_id=client["id"], author_role="client", body=f"Note {n:03d}", created_at=at)

    deps().repo.commit(created=[note(n) for n in range(50)])
    deps().repo.commit(created=[note(n) for n in range(50, 104)])

    def notes(page) -> list[str]:
        page.wait_for_load_state()  # after a click, the page it led to
        return page.locator("#thread .message .body").all_inner_texts()

    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    page.fill("#message", "My question, the newest of all.")
    page.click("#thread form button")
    shown = notes(page)
    assert len(shown) == 100 and shown[-1] == "My question, the newest of all." and shown[0] == "Note 005"
    assert page.locator("#later-messages").count() == 0

    page.click("#earlier-messages")
    assert notes(page) == [f"Note {n:03d}" for n in range(5)]
    assert page.locator("#earlier-messages").count() == 0
    page.click("#later-messages")
    assert notes(page)[0] == "Note 005" and notes(page)[-1] == "My question, the newest of all."

    page.goto(f"/web/bounties/{bounty['id']}?before=stale")  # an edited link: the newest again, saying so
    assert "out of date" in page.inner_text("#flash") and notes(page)[-1] == "My question, the newest of all."


def test_the_list_finds_work_by_its_words(http, new_page):
    client = http.account("client")
    word = uuid.uuid4().hex[:8]
    wanted = http.bounty(client["api_key"], title=f"Vectorise the {word} logo")
    unwanted = http.bounty(client["api_key"], title=f"Proofread the {word} menu")
    page = new_page(javascript=False)
    page.goto("/web/")
    page.fill("#q", f"LOGO {word}")
    page.click("form.filters button")
    assert page.locator("article.bounty h2").all_inner_texts() == [wanted["title"]]
    assert f"Filtered with the words “LOGO {word}”." in page.inner_text("main")
    assert unwanted["title"] not in page.content()
    page.goto("/web/?q=" + "x" * 101)
    assert "Words to look for can be at most 100 characters." in page.inner_text("#flash")
    assert page.get_attribute("#q", "aria-invalid") == "true"


def test_a_bounty_with_requirements_says_so_and_offers_no_claim_to_those_short_of_them(http, new_page):
    client = http.account("client")
    bounty = http.bounty(client["api_key"], requirements={"min_rating": 4.5, "min_completed": 3},
                         title=f"Careful work {uuid.uuid4().hex[:6]}")
    page = new_page(javascript=False)
    page.goto(f"/web/?q={bounty['title'].split()[-1]}")
    assert "For freelancers with a rating of at least 4.5/5 and at least 3 approved tasks" in page.inner_text("main")
    newcomer = http.account("freelancer")
    sign_in(page, newcomer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    assert page.inner_text("#requirements") == ("Open to freelancers with a rating of at least 4.5/5 and at least 3 "
                                                "approved tasks")
    assert page.inner_text("#not-qualified").startswith(
        "This bounty is open to freelancers with a mean rating of at least 4.5 (yours: none yet) and at least 3 "
        "approved tasks (yours: 0).")
    assert page.locator("form#claim").count() == 0 and page.locator("form#submit").count() == 0


def test_a_freelancer_whose_rating_fell_after_claiming_may_still_hand_the_work_in(http, new_page):
    client = http.account("client")
    bounty = http.bounty(client["api_key"], requirements={"min_rating": 4.5})
    freelancer = http.account("freelancer")

    def rated(stars: int) -> None:
        elsewhere = http.bounty(client["api_key"])
        sub = http.ok("POST", f"/v1/bounties/{elsewhere['id']}/submissions", {"content": "done"}, status=201,
                      key=freelancer["api_key"])
        http.ok("POST", f"/v1/submissions/{sub['id']}/approve", {"rating": stars}, key=client["api_key"])

    rated(5)
    http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    rated(1)  # a mean of 3 now, short of 4.5: but the slot is theirs
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    page.fill("#content", "The work I claimed.")
    page.click("#submit button")
    assert page.inner_text("#status") == "Pending review"
