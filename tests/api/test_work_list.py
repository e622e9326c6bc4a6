"""A freelancer's list of work (the web's "my work" in one Query): a copy of each claim, submission and payout,
written in the same transaction as the record whichever path writes it (requests, workers, timers, Stripe's
webhook), so it always says what the API says; and the `copy-work` upgrade step for an earlier release's records."""

from __future__ import annotations

import pytest

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import copy_work as _copy_work
from devtools import local_iam

# Upgrade steps are the operator's (`python -m ops`), run with the operator's credentials, not a function's.
copy_work = local_iam.as_operator(_copy_work)


@pytest.fixture
def repo(chalice_app):
    from chalicelib.bootstrap import deps

    return deps().repo


def _listed(repo, freelancer_id: str) -> list[tuple[str, str, str, str | None]]:
    page = repo.list_work(freelancer_id, limit=100)
    assert page.next_cursor is None
    return [(type(e.record).__name__, e.record.id, e.record.status, e.bounty and e.bounty.title) for e in page.items]


def _from_the_api(api, key: str) -> list[tuple[str, str, str]]:
    records = [("Claim", c) for c in api.ok("GET", "/v1/claims?limit=100", key=key)["items"]]
    records += [("Submission", s) for s in api.ok("GET", "/v1/submissions?limit=100", key=key)["items"]]
    records += [("Payout", p) for p in api.ok("GET", "/v1/payouts?limit=100", key=key)["items"]]
    return sorted((kind, r["id"], r["status"]) for kind, r in records)


def _a_history(api, workers, client_acct, freelancer) -> str:
    """A claim used by a rejected submission, a second approved (paid only after onboarding), a released claim."""
    ckey, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(ckey, title="Label cats", slots=2)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=fkey, status=201)
    first = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "One."}, key=fkey, status=201)
    api.ok("POST", f"/v1/submissions/{first['id']}/reject", {"reason": "No."}, key=ckey)
    second = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "Two."}, key=fkey, status=201)
    api.ok("POST", f"/v1/submissions/{second['id']}/approve", {"rating": 5}, key=ckey)
    other = api.bounty(ckey, title="Label dogs")
    claim = api.ok("POST", f"/v1/bounties/{other['id']}/claims", key=fkey, status=201)
    api.ok("POST", f"/v1/claims/{claim['id']}/release", key=fkey)
    workers.drain()  # the payout waits for onboarding
    return bounty["id"]


def test_the_list_holds_every_record_as_the_api_shows_it_with_its_bounty(api, repo, workers, client_acct,
                                                                         freelancer):
    _a_history(api, workers, client_acct, freelancer)
    fid, fkey = freelancer["id"], freelancer["api_key"]
    listed = _listed(repo, fid)
    assert sorted(row[:3] for row in listed) == _from_the_api(api, fkey)
    assert [row[0] for row in listed] == ["Claim", "Payout", "Submission", "Submission", "Claim"]  # newest first
    assert {row[3] for row in listed} == {"Label cats", "Label dogs"}
    assert ("Payout", "awaiting_onboarding") in {row[::2] for row in listed}

    # Stripe's word that the account is ready releases the payout (its webhook), the worker pays it.
    api.onboard(freelancer)
    workers.wait_for(lambda: workers.drain() or ("Payout", "paid") in {row[::2] for row in _listed(repo, fid)})
    assert sorted(row[:3] for row in _listed(repo, fid)) == _from_the_api(api, fkey)
    [payout] = [e.record for e in repo.list_work(fid, limit=100).items if type(e.record).__name__ == "Payout"]
    [shown] = api.ok("GET", "/v1/payouts", key=fkey)["items"]
    # The whole record but a submission's content and links.
    assert (payout.transfer_id, payout.amount) == (shown["transfer_id"], shown["amount"]["amount"]) != (None, None)


def test_the_list_reads_on_from_a_cursor_newest_first(api, repo, workers, client_acct, freelancer):
    _a_history(api, workers, client_acct, freelancer)
    whole = [e.record.id for e in repo.list_work(freelancer["id"], limit=100).items]
    read, cursor = [], None
    while True:
        page = repo.list_work(freelancer["id"], limit=2, cursor=cursor)
        read += [e.record.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert read == whole and len(whole) == 5


def test_the_upgrade_step_copies_an_earlier_releases_records_and_never_a_newer_copy(api, repo, workers,
                                                                                  client_acct, freelancer):
    _a_history(api, workers, client_acct, freelancer)
    fid = freelancer["id"]
    before = _listed(repo, fid)
    items = list(m.WorkModel.query(fid))
    for item in items:  # as a release before the list stored them: no copies
        item.delete()
    assert _listed(repo, fid) == []

    assert copy_work() >= len(items)
    assert _listed(repo, fid) == before
    assert copy_work() == 0  # every copy is of the record as it stands

    # A copy behind its record (the record changed by a call begun under the earlier release) is brought up to
    # date; the rest are left as they are.
    stale = m.WorkModel.get(fid, items[0].sort_key)
    stale.update(actions=[m.WorkModel.record_version.set(0)])
    assert copy_work() == 1
    assert _listed(repo, fid) == before
    # A copy without its bounty's brief (the app's update of a record the earlier release wrote) gets it.
    stale.update(actions=[m.WorkModel.bounty_title.remove()])
    assert copy_work() == 1
    assert _listed(repo, fid) == before
    assert copy_work() == 0


def test_the_upgrade_step_leaves_a_copy_written_after_its_read(api, repo, workers, client_acct, freelancer,
                                                               monkeypatch):
    """The step writes only the copies its batched read finds missing or behind, and the write keeps its condition:
    a copy the app brought up to date between that read and the write is not replaced. Here the read takes every
    copy of the freelancer's for behind, and the condition alone must leave them as they are."""
    from chalicelib.adapters import dynamo_upgrades

    _a_history(api, workers, client_acct, freelancer)
    fid = freelancer["id"]
    before = _listed(repo, fid)
    newer = m.WorkModel.get(fid, next(iter(m.WorkModel.query(fid))).sort_key)
    newer.update(actions=[m.WorkModel.record_version.set(newer.record_version + 1)])  # the app's, after the read

    read_as_behind = dynamo_upgrades._copy_behind
    monkeypatch.setattr(dynamo_upgrades, "_copy_behind",
                        lambda there, copy: copy.freelancer_id == fid or read_as_behind(there, copy))
    assert copy_work() == 0
    assert _listed(repo, fid) == before
    assert m.WorkModel.get(fid, newer.sort_key).record_version == newer.record_version
