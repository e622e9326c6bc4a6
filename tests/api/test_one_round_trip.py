"""Reading in one round trip and checking the key on the way: the repository's batch read, its counters and
conditional sets on DynamoDB (moto), keys that name their account, ids that name their parents, and the paths
for records and keys made before either existed."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import errors
from chalicelib.core.model import (
    Account,
    ApiKey,
    Bounty,
    Claim,
    Increment,
    Participant,
    Submission,
    child_id,
    new_id,
    parents_of,
)
from chalicelib.repository import KeyGuard, Ref
from tests.api.racing import AfterFirstRead


@pytest.fixture
def repo(chalice_app):
    from chalicelib.bootstrap import deps

    return deps().repo


def _account(role: str = "freelancer") -> Account:
    return Account(id=new_id("acct_"), role=role, name="n", email="n@example.com", created_at=datetime.now(UTC))


# ---- the repository ------------------------------------------------------------------------------------------

def test_get_many_reads_several_tables_in_the_order_asked_with_none_for_what_is_missing(repo, api, open_bounty):
    first, second = _account(), _account()
    repo.commit(created=[first, second])
    participant = Participant(open_bounty["id"], first.id)
    repo.commit(created=[participant])
    refs = [Ref(Account, second.id), Ref(Bounty, "bty_missing"), Ref(Participant, open_bounty["id"], first.id),
            Ref(Bounty, open_bounty["id"]), Ref(Account, first.id), Ref(Account, second.id),
            Ref(Participant, open_bounty["id"], second.id)]
    found = repo.get_many(refs)
    assert [type(r).__name__ if r else None for r in found] == [
        "Account", None, "Participant", "Bounty", "Account", "Account", None]
    assert found[0].id == second.id and found[4].id == first.id and found[5].id == second.id
    assert found[3].id == open_bounty["id"] and found[3].version >= 1
    assert repo.get_many([]) == []


def test_increments_add_without_a_read_and_move_the_version_on(repo):
    account = _account()
    repo.commit(created=[account])
    read_before = repo.get_account(account.id)
    repo.commit(increments=[Increment(Account, account.id, {"completed": 1, "rating_sum": 4, "rating_count": 1})])
    repo.commit(increments=[Increment(Account, account.id, {"completed": 1})])
    after = repo.get_account(account.id)
    assert (after.completed, after.rating_sum, after.rating_count) == (2, 4, 1)
    assert after.version == read_before.version + 2
    # A write based on the read from before the additions loses, so it cannot erase them.
    read_before.name = "stale"
    with pytest.raises(errors.ConcurrentUpdate):
        repo.commit(changed=[read_before])
    # No counters for an account that does not exist: the addition refuses rather than create a stub.
    with pytest.raises(errors.ConcurrentUpdate):
        repo.commit(increments=[Increment(Account, "acct_nobody", {"completed": 1})])
    assert repo.get_account("acct_nobody") is None


def test_counters_at_0_and_flags_off_are_left_out_of_the_item_and_read_back_as_such(repo):
    import boto3

    from chalicelib.adapters import dynamo_models

    account = _account()  # every counter 0, payouts_enabled off
    repo.commit(created=[account])
    table = dynamo_models.AccountModel.Meta.table_name
    stored = boto3.client("dynamodb").get_item(TableName=table, Key={"id": {"S": account.id}},
                                                ConsistentRead=True)["Item"]
    assert not {"completed", "rating_sum", "rating_count", "connect_keys_spent", "payouts_enabled"} & set(stored)
    read = repo.get_many([Ref(Account, account.id)])[0]
    assert (read.completed, read.rating_sum, read.connect_keys_spent, read.payouts_enabled) == (0, 0, 0, False)
    # A counter added to from nothing counts from 0; once set, a count (and a flag) is stored, and 0 leaves again.
    repo.commit(increments=[Increment(Account, account.id, {"completed": 1})])
    read = repo.get_account(account.id)
    read.payouts_enabled, read.rating_count = True, 2
    repo.commit(changed=[read])
    stored = boto3.client("dynamodb").get_item(TableName=table, Key={"id": {"S": account.id}},
                                                ConsistentRead=True)["Item"]
    assert (stored["completed"], stored["rating_count"], stored["payouts_enabled"]) == (
        {"N": "1"}, {"N": "2"}, {"BOOL": True})
    read = repo.get_account(account.id)
    read.completed = 0
    repo.commit(changed=[read])
    assert repo.get_account(account.id).completed == 0


def test_a_counter_with_a_ceiling_never_passes_it_and_an_unset_one_counts_from_what_it_is_told(repo):
    account = _account()  # made before live_keys was kept: the counter is unset
    repo.commit(created=[account])
    assert repo.get_account(account.id).live_keys is None

    def add(amount, unset_is=3):
        repo.commit(increments=[Increment(Account, account.id, {"live_keys": amount}, ceilings={"live_keys": 5},
                                          unset_is={"live_keys": unset_is})])

    add(1)  # unset: counts from the 3 it is told, so 4
    assert repo.get_account(account.id).live_keys == 4
    add(1)
    with pytest.raises(errors.CeilingReached):
        add(1)  # 6 would pass the ceiling of 5
    assert repo.get_account(account.id).live_keys == 5
    add(-2)
    assert repo.get_account(account.id).live_keys == 3
    fresh = _account()
    repo.commit(created=[fresh])
    with pytest.raises(errors.CeilingReached):  # told it holds 5 already: one more would pass the ceiling
        repo.commit(increments=[Increment(Account, fresh.id, {"live_keys": 1}, ceilings={"live_keys": 5},
                                          unset_is={"live_keys": 5})])


def test_set_if_changes_only_a_record_that_holds_what_is_expected(repo):
    account = _account()
    account.stripe_account_id = "acct_stripe_1"
    repo.commit(created=[account])
    assert not repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "other"})
    assert not repo.set_if(Account, "acct_nobody", {"payouts_enabled": True},
                           expected={"stripe_account_id": "acct_stripe_1"})
    assert repo.get_account("acct_nobody") is None
    assert repo.set_if(Account, account.id, {"payouts_enabled": True},
                       expected={"stripe_account_id": "acct_stripe_1"})
    stored = repo.get_account(account.id)
    assert stored.payouts_enabled and stored.version == 2


def test_set_if_along_other_changes_is_all_or_nothing(repo):
    account, other = _account(), _account()
    account.stripe_account_id = "acct_stripe_2"
    repo.commit(created=[account, other])
    other = repo.get_account(other.id)
    renamed = Account(**{**other.__dict__, "name": "renamed"})
    # The expectation fails: nothing is written, and that is not a race.
    assert not repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "x"},
                           along=[renamed])
    assert repo.get_account(other.id).name == "n"
    # The expectation holds but a record along changed since it was read: a race, nothing written.
    stale = Account(**{**other.__dict__, "name": "stale", "version": other.version - 1})
    with pytest.raises(errors.ConcurrentUpdate):
        repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "acct_stripe_2"},
                    along=[stale])
    assert not repo.get_account(account.id).payouts_enabled
    assert repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "acct_stripe_2"},
                       along=[renamed])
    assert repo.get_account(account.id).payouts_enabled and repo.get_account(other.id).name == "renamed"


def test_set_if_creates_records_only_with_its_change(repo):
    from chalicelib.adapters.dynamo_models import TimerModel
    from chalicelib.core import timers

    def stored(timer) -> bool:
        return TimerModel.count(timer.shard, TimerModel.due_key == timer.due_key, consistent_read=True) == 1

    account = _account()
    account.stripe_account_id = "acct_stripe_3"
    repo.commit(created=[account])
    timer = timers.resend_released_payout(new_id("pay_"), datetime.now(UTC), 4)
    assert not repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "x"},
                           created=[timer])
    assert not stored(timer)
    assert repo.set_if(Account, account.id, {"payouts_enabled": True}, expected={"stripe_account_id": "acct_stripe_3"},
                       created=[timer])
    assert stored(timer) and repo.get_account(account.id).payouts_enabled
    # A record that exists already is a lost race: nothing is set.
    with pytest.raises(errors.ConcurrentUpdate):
        repo.set_if(Account, account.id, {"payouts_enabled": False},
                    expected={"stripe_account_id": "acct_stripe_3"}, created=[timer])
    assert repo.get_account(account.id).payouts_enabled


def test_a_guarded_write_happens_only_while_the_key_holds(repo):
    account = _account("client")
    key = ApiKey(key_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), key_id=new_id("key_"),
                 account_id=account.id, role="client", created_at=datetime.now(UTC))
    repo.commit(created=[account, key])
    holds = KeyGuard(key.key_hash, account.id, "client")
    for wrong in (KeyGuard("0" * 64, account.id, "client"), KeyGuard(key.key_hash, "acct_other", "client"),
                  KeyGuard(key.key_hash, account.id, "freelancer")):
        stray = _account()
        with pytest.raises(errors.Unauthenticated):
            repo.commit(created=[stray], guard=wrong)
        assert repo.get_account(stray.id) is None
    written = _account()
    repo.commit(created=[written], guard=holds)
    assert repo.get_account(written.id) is not None
    # The guard holds, the write itself loses a race: that is a race (retried), not a bad key.
    with pytest.raises(errors.ConcurrentUpdate):
        repo.commit(created=[written], guard=holds)
    repo.commit(changed=[ApiKey(**{**key.__dict__, "revoked": True, "version": 1})])
    with pytest.raises(errors.Unauthenticated):
        repo.commit(created=[_account()], guard=holds)


def test_each_transaction_carries_a_token_of_its_own_so_a_retry_of_one_that_was_made_succeeds(repo):
    """DynamoDB answers a repeat of a transaction it already made (same ClientRequestToken, within 10 minutes) with
    success; moto ignores the token, so what is checked here is that every transaction sends one, of its own."""
    from chalicelib.adapters import dynamo

    sent = []

    def keep(params, **_):
        sent.append(params.get("ClientRequestToken"))

    client = dynamo._connection().client
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", keep)
    try:
        repo.commit(created=[_account(), _account()])
        account = _account()
        account.stripe_account_id = "acct_stripe_token"
        repo.commit(created=[account])
        assert repo.set_if(Account, account.id, {"payouts_enabled": True},
                           expected={"stripe_account_id": "acct_stripe_token"}, created=[_account()])
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", keep)
    assert len(sent) == 2 and all(sent) and len(set(sent)) == 2, sent


# ---- ids and keys that name what they belong to --------------------------------------------------------------

def test_child_ids_name_their_bounty_and_freelancer_and_made_up_ones_name_nothing():
    bounty_id, freelancer_id = new_id("bty_"), new_id("acct_")
    for prefix in ("clm_", "sub_", "pay_"):
        made = child_id(prefix, bounty_id, freelancer_id)
        assert made.startswith(prefix) and len(made) <= 80
        assert parents_of(made) == (bounty_id, freelancer_id)
    assert child_id("sub_", bounty_id, freelancer_id) != child_id("sub_", bounty_id, freelancer_id)
    for nothing in ("sub_doesnotexist", new_id("sub_"), "sub_a-b", "sub_ab-cd-ef-01", "sub_ZZ-cd-ef", "sub_-a-b",
                    "sub_a--b", ""):
        assert parents_of(nothing) is None, nothing


def test_a_made_up_id_naming_real_parents_finds_nothing(api, open_bounty, freelancer, client_acct):
    submitted = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                       key=freelancer["api_key"])
    bounty_id, freelancer_id = parents_of(submitted["id"])
    assert (bounty_id, freelancer_id) == (open_bounty["id"], freelancer["id"])
    made_up = child_id("sub_", bounty_id, freelancer_id)
    for key in (client_acct["api_key"], freelancer["api_key"]):
        code, body = api.get(f"/v1/submissions/{made_up}", key=key)
        assert code == 404, body
    code, body = api.post(f"/v1/submissions/{made_up}/approve", {}, key=client_acct["api_key"])
    assert code == 404, body
    code, body = api.post(f"/v1/claims/{child_id('clm_', bounty_id, freelancer_id)}/release", {},
                          key=freelancer["api_key"])
    assert code == 404, body


def test_records_from_before_ids_named_their_parents_are_still_found_and_decided_on(api, repo, open_bounty,
                                                                                     freelancer, client_acct):
    """A claim and a submission stored under ids of the older kind (no parents in them), and a participant record
    without the copy of its live claim: the use cases read what the records name, one round trip more."""
    now = datetime.now(UTC)
    bounty = repo.get_bounty(open_bounty["id"])
    claim = Claim(id=new_id("clm_"), bounty_id=bounty.id, freelancer_id=freelancer["id"], status="live",
                  created_at=now, expires_at=bounty.deadline)
    participant = Participant(bounty.id, freelancer["id"], live_claim_id=claim.id)
    bounty.free_slots -= 1
    bounty.claimed_slots += 1
    repo.commit(changed=[bounty], created=[claim, participant])
    submitted = api.ok("POST", f"/v1/bounties/{bounty.id}/submissions", {"content": "x"}, status=201,
                       key=freelancer["api_key"])
    assert repo.get_claim(claim.id).status == "used"
    # The submission, moved under an id of the older kind (its auto-approval timer is left to lapse as unchanged).
    stored = repo.get_submission(submitted["id"])
    legacy = Submission(**{**stored.__dict__, "id": new_id("sub_"), "version": 0})
    participant = repo.get_participant(bounty.id, freelancer["id"])
    participant.open_submission_id = legacy.id
    repo.commit(changed=[participant], created=[legacy], deleted=[stored])
    assert api.ok("GET", f"/v1/submissions/{legacy.id}", key=client_acct["api_key"])["status"] == "pending_review"
    approved = api.ok("POST", f"/v1/submissions/{legacy.id}/approve", {"rating": 4}, key=client_acct["api_key"])
    assert approved["status"] == "approved"
    assert repo.get_account(freelancer["id"]).completed == 1


def test_keys_of_the_older_kind_still_authenticate(api, repo):
    from chalicelib.services.accounts import hash_api_key

    account = _account("client")
    raw_key = "bk_" + uuid.uuid4().hex  # names no account: looked up before anything else
    repo.commit(created=[account, ApiKey(key_hash=hash_api_key(raw_key), key_id=new_id("key_"),
                                         account_id=account.id, role="client", created_at=datetime.now(UTC))])
    assert api.ok("GET", "/v1/accounts/me", key=raw_key)["id"] == account.id
    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = api.ok("POST", "/v1/bounties", {"title": "t", "description": "d", "reward": {"amount": 500},
                                              "deadline": deadline}, status=201, key=raw_key)
    assert created["client_id"] == account.id


def test_a_forged_key_cannot_take_or_block_an_idempotency_key(api, client_acct, open_bounty):
    named, _, secret = client_acct["api_key"].rpartition(".")
    forged = f"{named}.{secret[::-1]}"
    headers = {"Idempotency-Key": "cancel-1"}
    code, body = api.post(f"/v1/bounties/{open_bounty['id']}/cancel", {}, key=forged, headers=headers)
    assert code == 401, body
    done = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/cancel", {}, key=client_acct["api_key"],
                  headers=headers)
    assert done["status"] == "cancelled"


def _stripe_not_ready_when_asked(monkeypatch) -> None:
    """Stripe's answer when the worker asks before holding a payout: not ready yet (its word comes after)."""
    from chalicelib.services import onboarding

    monkeypatch.setattr(onboarding, "ask_stripe_if_payable", lambda deps_, account: False)


def test_a_payout_held_for_onboarding_just_as_stripe_says_ready_is_still_paid(api, workers, client_acct,
                                                                              payable_freelancer, monkeypatch):
    """The worker reads the account (not ready), Stripe's webhook makes it ready and finds no payout waiting, then
    the worker holds the payout: it must look again and send it on, or the payout would wait forever."""
    from dataclasses import replace

    from chalicelib.bootstrap import deps
    from chalicelib.services import payouts

    _stripe_not_ready_when_asked(monkeypatch)

    real = deps()
    real.repo.set_if(Account, payable_freelancer["id"], {"payouts_enabled": False},
                     expected={"role": "freelancer"})
    bounty = api.bounty(client_acct["api_key"])
    submitted = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                       key=payable_freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{submitted['id']}/approve", {}, key=client_acct["api_key"])
    payout_id = approved["payout_id"]
    # The approval's own message is this delivery: take it off the queue, so only a re-send can pay the payout.
    sqs = workers.runner.sqs
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=workers.payouts_queue)["QueueUrl"])

    def webhook_lands():  # Stripe's word that the account is ready
        assert real.repo.set_if(Account, payable_freelancer["id"], {"payouts_enabled": True},
                                expected={"role": "freelancer"})

    racing = replace(real, repo=AfterFirstRead(real.repo, webhook_lands))
    assert payouts.pay_out(racing, payout_id) == "awaiting_onboarding"
    workers.drain()
    paid = next(p for p in api.ok("GET", "/v1/payouts?limit=100", key=payable_freelancer["api_key"])["items"]
                if p["id"] == payout_id)
    assert paid["status"] == "paid", paid
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_held_payout_whose_release_was_missed_is_paid_by_its_safety_net(api, workers, clock, client_acct,
                                                                          payable_freelancer, monkeypatch):
    """Stripe's word that an account is ready finds waiting payouts through an eventually consistent index, so it
    can miss a payout held a moment before. The hold files a timer that sends the payout again if, by then, it
    still waits while the freelancer can receive."""
    from chalicelib.bootstrap import deps

    _stripe_not_ready_when_asked(monkeypatch)

    repo = deps().repo
    assert repo.set_if(Account, payable_freelancer["id"], {"payouts_enabled": False}, expected={"role": "freelancer"})
    bounty = api.bounty(client_acct["api_key"])
    submitted = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                       key=payable_freelancer["api_key"])
    payout_id = api.ok("POST", f"/v1/submissions/{submitted['id']}/approve", {},
                       key=client_acct["api_key"])["payout_id"]
    # The hold comes well after the approval, so the approval's own safety net has fired (and found it queued).
    clock.advance(601)
    workers.sweep()
    workers.drain()
    assert repo.get_payout(payout_id).status == "awaiting_onboarding"
    # Stripe's word arrives and is recorded, but the payout is not found through the index.
    assert repo.set_if(Account, payable_freelancer["id"], {"payouts_enabled": True}, expected={"role": "freelancer"})
    workers.drain()
    assert repo.get_payout(payout_id).status == "awaiting_onboarding"
    clock.advance(601)
    workers.sweep()
    workers.drain()
    assert repo.get_payout(payout_id).status == "paid"
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_key_naming_an_account_we_could_not_have_made_is_401_not_a_crash(api, open_bounty):
    """The account a key names goes into the keys of the records read with it: one that is no id of ours (too
    long for a DynamoDB key, other characters) is treated as naming nothing, and the key is looked up as is."""
    from chalicelib.bootstrap import deps
    from chalicelib.services.accounts import authenticate

    for named in ("acct_" + "a" * 3000, "acct_../../x", "acct_", "acct_ABC"):
        # Refused by the lookup at once: such an account never reaches the key of a record (DynamoDB refuses keys
        # over 1 KB with an error of its own, which moto does not imitate).
        with pytest.raises(errors.Unauthenticated):
            authenticate(deps(), f"Bearer bk_{named}.freelancer.secret")
        for path in (f"/v1/bounties/{open_bounty['id']}/claims", f"/v1/bounties/{open_bounty['id']}/messages"):
            code, body = api.post(path, {"body": "hi"} if path.endswith("messages") else {},
                                  key=f"bk_{named}.freelancer.secret")
            assert code == 401 and body["error"]["code"] == "unauthenticated", (named[:20], path, code, body)
