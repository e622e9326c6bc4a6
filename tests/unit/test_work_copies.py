"""The copies in a freelancer's list of work (adapters.dynamo_work): what a copy keeps of its record, and which
copies a write puts whole and which it updates. No I/O: items are built, never sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters import dynamo_work
from chalicelib.core import rules
from chalicelib.core.model import Claim, Participant, Payout, Submission

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _bounty():
    created = rules.new_bounty(bounty_id="bty_1", client_id="acct_c", title="Label cats", description="d",
                               reward=700, currency="usd", slots=1, deadline=NOW + timedelta(days=1),
                               review_window_seconds=3600, claim_seconds=None, estimated_minutes=None, tags=[],
                               now=NOW, fee_bps=1000, currencies=frozenset({"usd"}))
    return rules.mark_funded(created, payment_intent_id="pi_1", charge_id="ch_1", now=NOW)


def _read_back(item) -> object:
    return dynamo_work._decode(item.kind, item.record)


def test_a_copy_keeps_the_whole_record_but_a_submissions_content_and_links():
    bounty, participant, _, submission = rules.submit(_bounty(), Participant("bty_1", "acct_f", submissions=[]),
                                                      None, submission_id="sub_1", content="x" * 5000,
                                                      links=["https://example.com"], now=NOW)
    claim = Claim("clm_1", "bty_1", "acct_f", "live", NOW, NOW + timedelta(hours=1), version=3)
    payout = Payout("pay_1", "sub_1", "bty_1", "acct_f", 700, "usd", "queued", NOW, NOW, version=1)
    puts, updates = dynamo_work.copies([bounty, participant, submission, claim, payout])
    assert updates == [] and [item.kind for item in puts] == ["submission", "claim", "payout"]
    copied_submission, copied_claim, copied_payout = map(_read_back, puts)
    assert copied_submission == Submission(**{**submission.__dict__, "content": "", "links": [], "version": 0})
    assert copied_claim == Claim(**{**claim.__dict__, "version": 0})
    assert copied_payout == Payout(**{**payout.__dict__, "version": 0})
    # Each at the version its record is written at, with the bounty's brief, under the freelancer.
    assert [item.record_version for item in puts] == [1, 4, 2]
    assert {(i.freelancer_id, i.bounty_title, i.bounty_reward, i.bounty_currency) for i in puts} == {
        ("acct_f", "Label cats", 700, "usd")}
    assert puts[1].sort_key == f"{NOW.isoformat()}#clm_1"


def test_a_record_written_without_its_bounty_updates_its_copy_and_keeps_the_brief_there():
    payout = Payout("pay_1", "sub_1", "bty_1", "acct_f", 700, "usd", "paid", NOW, NOW, transfer_id="tr_1", version=2)
    puts, [(item, actions)] = dynamo_work.copies([payout])
    assert puts == [] and item.sort_key == f"{NOW.isoformat()}#pay_1"
    assert len(actions) == 3  # the kind, the record, its version: no brief, so the one there stays
    # updates_only: every copy is an update, even with the bounty in the write (set_if's request order)
    puts, updates = dynamo_work.copies([_bounty(), payout], updates_only=True)
    assert puts == [] and len(updates) == 1

