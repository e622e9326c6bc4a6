"""What a freelancer is still owed: payouts not yet paid, found through a sparse index of those alone, so neither
the freelancer's listing nor Stripe's word that their account is ready reads a long paid history."""

from __future__ import annotations

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import index_unpaid_payouts as _index_unpaid_payouts
from chalicelib.bootstrap import deps
from chalicelib.core.model import AWAITING_ONBOARDING, QUEUED, Account
from chalicelib.ports import PaymentEvent
from chalicelib.services import onboarding
from devtools import local_iam

from .reads import ReadCounter
from .seeding import seed_payouts

# Upgrade steps are the operator's (`python -m ops`), run with the operator's credentials, not a function's.
index_unpaid_payouts = local_iam.as_operator(_index_unpaid_payouts)

PAID_HISTORY = 250  # more than two pages of 100


def _statuses(api, key: str, status: str) -> list[str]:
    return [p["status"] for p in api.ok("GET", f"/v1/payouts?status={status}&limit=100", key=key)["items"]]


def test_payouts_filter_by_status_and_by_what_is_still_owed(api, workers, client_acct, freelancer):
    key = freelancer["api_key"]
    bounty = api.bounty(client_acct["api_key"])
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201, key=key)
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    workers.drain()
    assert _statuses(api, key, "unpaid") == ["awaiting_onboarding"]
    assert _statuses(api, key, "awaiting_onboarding") == ["awaiting_onboarding"]
    assert _statuses(api, key, "queued") == _statuses(api, key, "paid") == _statuses(api, key, "failed") == []

    api.onboard(freelancer)
    workers.wait_for(lambda: workers.drain() or _statuses(api, key, "paid") == ["paid"])
    assert _statuses(api, key, "unpaid") == [] and _statuses(api, key, "awaiting_onboarding") == []

    code, body = api.get("/v1/payouts?status=owed", key=key)
    assert code == 422 and body["error"]["code"] == "invalid_status", body
    assert "unpaid" in body["error"]["message"]


def test_stripes_word_that_an_account_is_ready_reads_only_the_payouts_it_releases(api, workers, freelancer):
    repo = deps().repo
    fid = freelancer["id"]
    api.onboard(freelancer)  # an account Stripe says can be paid; its own event is let through first
    workers.wait_for(lambda: repo.get_account(fid).payouts_enabled)
    stripe_id = repo.get_account(fid).stripe_account_id
    assert repo.set_if(Account, fid, {"payouts_enabled": False}, expected={"role": "freelancer"})
    held = seed_payouts(fid, paid=PAID_HISTORY, waiting=2)
    event = PaymentEvent(id=f"evt_ready{fid}", type="account.updated",
                         data={"id": stripe_id, "payouts_enabled": True, "metadata": {"account_id": fid}})

    with ReadCounter(m.PayoutModel._get_connection().connection.client) as reads:
        assert onboarding.apply_account_event(deps(), event) == "payouts_enabled"
    assert reads.calls == ["Query"] and reads.items_read == len(held)  # none of the paid history
    assert [repo.get_payout(p.id).status for p in held] == [QUEUED, QUEUED]
    _take_messages(workers, len(held))  # the seeded payouts have no bounty to pay from: keep them from the worker


def _take_messages(workers, count: int) -> None:
    sqs = workers.runner.sqs
    url = sqs.get_queue_url(QueueName=workers.payouts_queue)["QueueUrl"]
    taken = 0
    while taken < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert messages, f"{count - taken} release messages missing"
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken += len(messages)


def test_payouts_stored_before_the_index_are_put_into_it_once(api, workers, freelancer):
    """An upgrade from a release without the index: `python -m ops index-unpaid` puts the unpaid payouts already
    stored into it (a Scan, for an operator), and running it again changes nothing."""
    fid = freelancer["id"]
    held = seed_payouts(fid, paid=3, waiting=2)
    for payout in held:  # as stored by the older release: no index attribute
        m.PayoutModel(id=payout.id).update([m.PayoutModel.unpaid_freelancer.remove()])
    key = freelancer["api_key"]
    assert _statuses(api, key, "unpaid") == []

    assert index_unpaid_payouts() >= len(held)
    assert _statuses(api, key, "unpaid") == [AWAITING_ONBOARDING] * len(held)
    assert len(_statuses(api, key, "paid")) == 3
    assert index_unpaid_payouts() == 0


def test_a_local_state_saved_by_an_older_release_is_upgraded_as_it_is_restored(api, client_acct, freelancer,
                                                                                  tmp_path):
    """`make run` restores its tables from .local/aws-state.json: payouts saved before the index existed are put
    into it on the way in, so a developer's held payouts are still released; work saved before review queues
    goes into its client's."""
    import json

    from chalicelib import config
    from devtools import local_state

    [held] = seed_payouts(freelancer["id"], paid=0, waiting=1)
    item = m.PayoutModel.get(held.id).serialize()  # DynamoDB's wire format, as a saved state holds items
    del item["unpaid_freelancer"]
    m.PayoutModel(id=held.id).delete()
    bounty = api.bounty(client_acct["api_key"])
    handed_in = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                       key=freelancer["api_key"])
    work = m.SubmissionModel.get(handed_in["id"]).serialize()
    for attribute in ("client_id", "review_client", "review_due"):
        del work[attribute]
    m.SubmissionModel(id=handed_in["id"]).delete()
    state = {"tables": {config.table_prefix() + "payouts": [item], config.table_prefix() + "submissions": [work]},
             "queues": {}}
    (tmp_path / "aws-state.json").write_text(json.dumps(state))

    restore = local_iam.as_operator(local_state.restore)  # make run's restore: the operator's, not a function's
    assert restore(tmp_path / "aws-state.json") == {"items": 2, "messages": 0}
    assert _statuses(api, freelancer["api_key"], "unpaid") == [AWAITING_ONBOARDING]
    queue = api.ok("GET", "/v1/submissions", key=client_acct["api_key"])["items"]
    assert [s["id"] for s in queue] == [handed_in["id"]]
