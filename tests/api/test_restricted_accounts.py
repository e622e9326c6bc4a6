"""A freelancer's Connect account that Stripe restricts after onboarding (it wants more details): transfers to it are
refused until onboarding is completed again. Stripe says so with `account.updated`, but that word can come late (a
delivery that failed, retried by Stripe hours on), after the payouts worker has tried the transfer. The payout must
then wait for the account, as one for a freelancer not yet onboarded does, and be paid once Stripe says ready again:
never spend its deliveries on refusals and end `failed`, waiting for an operator."""

from __future__ import annotations

import urllib.parse
import urllib.request

from chalicelib import config
from chalicelib.bootstrap import deps
from tests.api.test_payout_faults import _approved_payout, _payout
from tests.api.test_timers import _tick


def _restrict(localstripe_server, stripe_account_id: str, *, event: bool, payouts: str = "restricted") -> None:
    form = urllib.parse.urlencode({"event": str(event).lower(), "payouts": payouts}).encode()
    url = f"{localstripe_server.url}/_config/connect/restrict/{stripe_account_id}"
    urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10).close()


def test_a_transfer_refused_by_an_account_restricted_before_its_word_came_waits_and_is_paid_once_ready(
        api, workers, localstripe_server, client_acct, payable_freelancer):
    fkey = payable_freelancer["api_key"]
    stripe_account = deps().repo.get_account(payable_freelancer["id"]).stripe_account_id
    _restrict(localstripe_server, stripe_account, event=False)  # its account.updated is late
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain(rounds=config.max_receive_count() + 3)

    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "awaiting_onboarding", payout
    assert workers.transfers_for(bounty["id"]) == []
    assert approved["payout_id"] in [p["id"] for p in api.ok("GET", "/v1/payouts?status=unpaid", key=fkey)["items"]]

    api.onboard(payable_freelancer)  # the details Stripe asked for: ready again, and Stripe says so
    workers.wait_for(lambda: _payout(api, payable_freelancer, approved["payout_id"])["status"] != "awaiting_onboarding")
    workers.drain()
    assert _payout(api, payable_freelancer, approved["payout_id"])["status"] == "paid"
    [transfer] = workers.transfers_for(bounty["id"])
    assert transfer["amount"] == bounty["reward"]["amount"]
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client_acct["api_key"])["totals"]
    assert totals["paid_out"] == bounty["reward"]["amount"] and totals["held"] == 0


def test_an_account_whose_transfers_alone_are_restricted_holds_its_payout_once_not_in_a_loop(
        api, workers, clock, localstripe_server, client_acct, payable_freelancer):
    """Stripe can keep `payouts_enabled` (the account's own payouts to its bank) while refusing transfers to it. The
    worker's look at Stripe before holding a payout must not take that for ready: it would release the payout it just
    held, be refused again, hold it again, and so on, a Stripe request after another for as long as it lasts."""
    stripe_account = deps().repo.get_account(payable_freelancer["id"]).stripe_account_id
    _restrict(localstripe_server, stripe_account, event=False, payouts="kept")
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain(rounds=config.max_receive_count() + 3)
    later, approved_later = _approved_payout(api, client_acct, payable_freelancer)  # the worker looks at Stripe
    workers.drain(rounds=config.max_receive_count() + 3)
    _tick(clock, workers, 601)  # the holds' safety nets look again

    assert workers.run_once() == 0, "the payouts are still being sent round"
    payout_ids = [approved["payout_id"], approved_later["payout_id"]]
    assert [_payout(api, payable_freelancer, p)["status"] for p in payout_ids] == ["awaiting_onboarding"] * 2
    assert workers.transfers_for(bounty["id"]) == workers.transfers_for(later["id"]) == []
    api.onboard(payable_freelancer)
    workers.wait_for(lambda: _payout(api, payable_freelancer, payout_ids[0])["status"] != "awaiting_onboarding")
    workers.drain()
    assert [_payout(api, payable_freelancer, p)["status"] for p in payout_ids] == ["paid"] * 2
    assert len(workers.transfers_for(bounty["id"])) == len(workers.transfers_for(later["id"])) == 1
