"""A freelancer with a long history: "my work" still shows exactly what they are owed, and reads the bounties
their records point to many at a time."""

from __future__ import annotations

from chalicelib.services import bounties
from tests.api.seeding import seed_payouts
from tests.web.conftest import sign_in

PAID_HISTORY = 520  # more than the page lists (its newest 500)


def test_what_is_owed_counts_payouts_older_than_the_listed_history(http, new_page, monkeypatch):
    freelancer = http.account("freelancer")
    held = seed_payouts(freelancer["id"], paid=PAID_HISTORY, waiting=2)
    owed = sum(p.amount for p in held)  # 100 + 101 minor units
    reads = []
    real = bounties.get_visible_bounties
    monkeypatch.setattr(bounties, "get_visible_bounties", lambda deps, caller, ids: reads.append(len(ids)) or
                        real(deps, caller, ids))  # our own function, watched: it still reads for real

    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto("/web/me")
    assert f"${owed / 100:.2f} approved, not paid yet" in page.inner_text("#earned")
    assert reads == [500]  # one call for every bounty the page shows, not one read each
