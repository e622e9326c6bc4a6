"""Changing OPEN_INDEX_SHARDS or TIMER_SHARDS on a stage with data: listings and the sweep read only the shards below
the setting, so what was written under other shards is moved (`python -m ops reshard-open`, `reshard-timers`, and
the local stack's restore by itself): no open bounty is lost from view and no timer is left unfired."""

from __future__ import annotations

import uuid
from datetime import timedelta

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import reshard_open_bounties as _reshard_open_bounties
from chalicelib.adapters.dynamo_upgrades import reshard_timers as _reshard_timers
from chalicelib.bootstrap import deps
from chalicelib.core import timers as timer_rules
from chalicelib.services import timers
from devtools import local_iam

# Upgrade steps are the operator's (`python -m ops`), run with the operator's credentials, not a function's.
reshard_open_bounties = local_iam.as_operator(_reshard_open_bounties)
reshard_timers = local_iam.as_operator(_reshard_timers)

BOUNTIES = 12  # with 4 shards, the chance that all land in shard 0 is 4^-12


def _listed(api, tag: str) -> set[str]:
    return {b["id"] for b in api.ok("GET", f"/v1/bounties?tag={tag}&limit=100")["items"]}


def test_fewer_shards_hide_nothing_once_the_open_bounties_are_moved(api, client_acct, monkeypatch):
    tag = f"shards-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OPEN_INDEX_SHARDS", "4")
    posted = {api.bounty(client_acct["api_key"], tags=[tag])["id"] for _ in range(BOUNTIES)}
    cancelled = posted.pop()
    api.ok("POST", f"/v1/bounties/{cancelled}/cancel", {}, key=client_acct["api_key"])
    assert _listed(api, tag) == posted

    monkeypatch.setenv("OPEN_INDEX_SHARDS", "1")
    assert _listed(api, tag) < posted  # the setting alone hides those under shards 1 to 3

    assert 0 < reshard_open_bounties(4) < BOUNTIES
    assert _listed(api, tag) == posted  # and the cancelled one stays out of the index
    assert reshard_open_bounties(4) == 0  # nothing left to move


def test_more_shards_spread_the_open_bounties_again(api, client_acct, monkeypatch):
    tag = f"shards-{uuid.uuid4().hex[:8]}"
    posted = {api.bounty(client_acct["api_key"], tags=[tag])["id"] for _ in range(BOUNTIES)}
    monkeypatch.setenv("OPEN_INDEX_SHARDS", "4")
    assert _listed(api, tag) == posted  # more shards hide nothing: shard 0 is still read
    try:
        assert reshard_open_bounties(1) > 0
        assert _listed(api, tag) == posted
    finally:  # every open bounty of the session back under the one shard the other tests read
        reshard_open_bounties(4, 1)


def test_a_local_state_saved_under_more_shards_is_moved_to_todays_shards_when_restored(api, client_acct, tmp_path):
    """`make run` restores .local/aws-state.json under today's settings (OPEN_INDEX_SHARDS' default was once 4)."""
    import json

    from chalicelib import config
    from devtools import local_state

    tag = f"shards-{uuid.uuid4().hex[:8]}"
    bounty_id = api.bounty(client_acct["api_key"], tags=[tag])["id"]
    item = m.BountyModel.get(bounty_id).serialize()  # DynamoDB's wire format, as a saved state holds items
    item["open_shard"] = {"S": "open#3"}
    m.BountyModel(id=bounty_id).delete()
    prefix = f"clm_restored{uuid.uuid4().hex[:8]}"
    saved_timer = timer_rules.timer("lapse_claim", f"{prefix}0", deps().clock.now() - timedelta(seconds=1), 8)
    timer_item = m.TimerModel(saved_timer.shard, saved_timer.due_key, kind=saved_timer.kind,
                              ref_id=saved_timer.ref_id, due_at=saved_timer.due_at, version=1).serialize()
    timer_item["shard"] = {"S": "timers#7"}
    state = {"tables": {config.table_prefix() + "bounties": [item], config.table_prefix() + "timers": [timer_item]},
             "queues": {}}
    (tmp_path / "aws-state.json").write_text(json.dumps(state))

    local_iam.as_operator(local_state.restore)(tmp_path / "aws-state.json")  # make run's restore: the operator's
    assert _listed(api, tag) == {bounty_id}
    with local_iam.running("sweep_timers"):
        timers.sweep(deps())
    assert _waiting(prefix) == set()  # moved under today's setting, where the sweep found it


def _waiting(prefix: str, shards: int = 16) -> set[str]:
    """Our timers still in the table, under any shard up to `shards`."""
    return {t.ref_id for shard in range(shards) for t in m.TimerModel.query(f"timers#{shard}")
            if t.ref_id.startswith(prefix)}


def test_fewer_timer_shards_leave_no_timer_unfired_once_the_timers_are_moved(api, monkeypatch):
    prefix = f"clm_reshard{uuid.uuid4().hex[:8]}"
    due = deps().clock.now() - timedelta(seconds=1)
    # Half filed under shards 0 and 1 of 8, which a 2-shard sweep reads, and half under the six it cannot see.
    made = {"seen": [], "stranded": []}
    for n in range(1000):
        made_now = timer_rules.timer("lapse_claim", f"{prefix}{n:03d}", due, 8)
        side = made["seen"] if made_now.shard in ("timers#0", "timers#1") else made["stranded"]
        if len(side) < BOUNTIES // 2:
            side.append(made_now)
    deps().repo.commit(created=made["seen"] + made["stranded"])

    monkeypatch.setenv("TIMER_SHARDS", "2")
    with local_iam.running("sweep_timers"):
        timers.sweep(deps())
    stranded = _waiting(prefix)
    assert stranded == {t.ref_id for t in made["stranded"]}

    assert reshard_timers(8) >= len(stranded)  # and any other test's timers under shards 2 and 3
    with local_iam.running("sweep_timers"):
        timers.sweep(deps())
    assert _waiting(prefix) == set()
    assert reshard_timers(8) == 0
