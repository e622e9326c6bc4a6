"""The sweep's cost follows what is due, not what is stored: it reads due timers by key range, never by Scan."""

from __future__ import annotations

from datetime import timedelta

from chalicelib import config
from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo import _to_item
from chalicelib.bootstrap import deps
from chalicelib.core import timers as timer_rules
from chalicelib.services import timers
from devtools import local_iam

from .reads import ReadCounter

NOT_DUE = 3000
DUE = 7


def test_a_sweep_reads_only_due_timers(stack):
    repo = deps().repo  # binds the models to this stage's tables
    now = deps().clock.now()
    shards = config.timer_shards()
    far = now + timedelta(days=300)  # beyond anything another test's clock reaches
    with local_iam.running(local_iam.OPERATOR), m.TimerModel.batch_write() as batch:  # the test's seeding
        for i in range(NOT_DUE):
            batch.save(_to_item(timer_rules.timer("expire_bounty", f"bty_notdue{i:05d}", far, shards), 0))
    due = [timer_rules.timer("lapse_claim", f"clm_due{i}", now - timedelta(seconds=1), shards) for i in range(DUE)]
    repo.commit(created=due)

    with ReadCounter(m.TimerModel._get_connection().connection.client) as reads:
        with local_iam.running("sweep_timers"):
            sent = timers.sweep(deps())
    assert sent >= DUE
    assert "Scan" not in reads.calls
    assert reads.items_read == sent  # every item read was due and handed on; none of the 3,000 others
    assert len(reads.calls) == shards
