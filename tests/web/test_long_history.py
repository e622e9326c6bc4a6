"""A freelancer with a long history: "my work" lists the newest of it from their list of work in one Query, and
still shows exactly what they are owed, from that list when it holds every payout, else from the index of unpaid
payouts."""

from __future__ import annotations

import pytest

from chalicelib.services import work_list
from tests.api.seeding import seed_payouts
from tests.web.conftest import sign_in

PAID_HISTORY = 520  # more than the page lists (its newest 500)


@pytest.mark.parametrize("window", [work_list.WINDOW, 100])
def test_what_is_owed_counts_payouts_older_than_the_listed_history(http, new_page, monkeypatch, window):
    freelancer = http.account("freelancer")
    held = seed_payouts(freelancer["id"], paid=PAID_HISTORY, waiting=2)
    owed = sum(p.amount for p in held)  # 100 + 101 minor units
    asked = []
    real = work_list._every_unpaid
    monkeypatch.setattr(work_list, "WINDOW", window)  # 100: a history longer than the list read for the page
    monkeypatch.setattr(work_list, "_every_unpaid", lambda *a: asked.append(1) or real(*a))

    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto("/web/me")
    assert f"${owed / 100:.2f} approved, not paid yet" in page.inner_text("#earned")
    payouts = page.locator("tr.payout")
    assert payouts.count() == min(window, work_list.SHOWN[work_list.Payout])
    assert payouts.first.inner_text().startswith("Seeded bty_seed0")  # the bounty's title from the copy
    assert asked == ([] if window > PAID_HISTORY + 2 else [1])  # the index only when the list does not hold all
