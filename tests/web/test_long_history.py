"""A freelancer with a long history: "my work" lists the newest of it from their list of work in one Query, and
still shows exactly what they are owed, from that list when it holds every payout, else from the index of unpaid
payouts."""

from __future__ import annotations

import pytest

from chalicelib.services import work_list
from tests.api.seeding import seed_payouts
from tests.web.conftest import sign_in

PAID_HISTORY = 520  # more than the page lists (its newest 500)


@pytest.mark.parametrize("page_size, queries", [(work_list.PAGE, 1), (100, work_list.MAX_PAGES)])
def test_what_is_owed_counts_payouts_older_than_the_listed_history(http, new_page, monkeypatch, page_size, queries):
    freelancer = http.account("freelancer")
    held = seed_payouts(freelancer["id"], paid=PAID_HISTORY, waiting=2)
    owed = sum(p.amount for p in held)  # 100 + 101 minor units
    asked, listed = [], []
    real_unpaid, real_list = work_list._every_unpaid, repository_of_the_app().list_work
    # 100: a history longer than what the page reads of it (MAX_PAGES of 100; it reads on for want of claims)
    monkeypatch.setattr(work_list, "PAGE", page_size)
    monkeypatch.setattr(work_list, "_every_unpaid", lambda *a: asked.append(1) or real_unpaid(*a))
    monkeypatch.setattr(repository_of_the_app(), "list_work", lambda *a, **kw: listed.append(1) or real_list(*a, **kw))

    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto("/web/me")
    assert f"${owed / 100:.2f} approved, not paid yet" in page.inner_text("#earned")
    payouts = page.locator("tr.payout")
    assert payouts.count() == min(page_size * queries, work_list.SHOWN[work_list.Payout])
    assert payouts.first.inner_text().startswith("Seeded bty_seed0")  # the bounty's title from the copy
    assert len(listed) == queries
    assert asked == ([] if page_size > PAID_HISTORY + 2 else [1])  # the index only when the list was not all read


def repository_of_the_app():
    from chalicelib.bootstrap import deps

    return deps().repo
