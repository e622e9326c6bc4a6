"""The sweep's cost follows what is due, not what is stored: it reads due timers by key range, never by Scan, and
hands them on ten to an SQS request."""

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
DUE = 27


class SqsCalls:
    """The SQS operations made through `client`, by name, counted through botocore's event hooks."""

    def __init__(self, client):
        self.client = client
        self.calls: list[str] = []

    def __call__(self, model, **kwargs):
        self.calls.append(model.name)

    def __enter__(self):
        self.client.meta.events.register("before-call.sqs", self)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("before-call.sqs", self)


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

    with ReadCounter(m.TimerModel._get_connection().connection.client) as reads, SqsCalls(deps().queue.client) as sqs:
        with local_iam.running("sweep_timers"):
            sent = timers.sweep(deps())
    assert sent >= DUE
    assert "Scan" not in reads.calls
    assert reads.items_read == sent  # every item read was due and handed on; none of the 3,000 others
    assert len(reads.calls) == shards
    # Handed on ten to a request: at most one request per shard more than a tenth of them, not one per timer.
    sends = [call for call in sqs.calls if call != "GetQueueUrl"]
    assert set(sends) == {"SendMessageBatch"}, sqs.calls
    assert len(sends) <= sent // 10 + shards < sent


class RefusingQueue:
    """The app's queue, refusing the messages of chosen timers, as SQS may refuse some entries of a batch and take
    the others (each entry succeeds or fails on its own); the others it sends for real."""

    def __init__(self, queue, refused_ref_ids: set[str]):
        self.queue = queue
        self.refused_ref_ids = refused_ref_ids

    def send_batch(self, queue_name, bodies):
        self.queue.send_batch(queue_name, [b for b in bodies if b["ref_id"] not in self.refused_ref_ids])
        return {position for position, b in enumerate(bodies) if b["ref_id"] in self.refused_ref_ids}


def _still_filed(timers_filed) -> set[str]:
    repo, until = deps().repo, max(t.due_key for t in timers_filed)
    shards = {t.shard for t in timers_filed}
    return {t.ref_id for shard in shards for t in repo.due_timers(shard, until=until, limit=1000)} & \
        {t.ref_id for t in timers_filed}


def test_a_timer_whose_message_sqs_refused_stays_filed_for_the_next_run(stack):
    from dataclasses import replace

    now = deps().clock.now()
    due = [timer_rules.timer("lapse_claim", f"clm_refused{i}", now - timedelta(seconds=1), config.timer_shards())
           for i in range(12)]  # lapses of claims that do not exist: their messages change nothing
    deps().repo.commit(created=due)
    refused = {t.ref_id for t in due[::4]}

    with local_iam.running("sweep_timers"):
        timers.sweep(replace(deps(), queue=RefusingQueue(deps().queue, refused)))
    assert _still_filed(due) == refused  # only a timer whose message SQS took is deleted

    with local_iam.running("sweep_timers"):
        timers.sweep(deps())
    assert _still_filed(due) == set()
