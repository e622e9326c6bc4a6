"""SQS-triggered functions: each message is one use case, safe to run twice; failures are reported
per message so one bad message does not re-run the batch."""

from __future__ import annotations

import json
import logging
import math
import random

from chalice import Blueprint, Rate

from .. import config, observability
from ..bootstrap import deps
from ..services.deps import RETRY_SECONDS

log = logging.getLogger(__name__)
bp = Blueprint(__name__)
# Deployed, each worker's handler is this module's function (`chalicelib.workers.queues.payouts_worker`): app.py,
# which sets up logging for the API, is never imported there, so the workers' JSON logs are set up here.
observability.setup_logging()

BACKOFF_MAX_SECONDS = 900


def redelivery_delay(receive_count: int) -> int:
    """Seconds a message that failed its `receive_count`th delivery stays hidden: twice as long after each failure
    (15 s, 30 s, 60 s, … up to 15 min), less a random part of up to half.

    Without the random part, messages that failed together (a burst Stripe answered with 429, an outage) would all
    come back together at the same marks and fail together again. Half of the delay is kept rather than all of it
    left to chance ("full jitter"): a message has only MAX_RECEIVE_COUNT deliveries, and a delay drawn near zero
    would spend them in seconds, marking payouts failed before Stripe had time to recover."""
    longest = min(config.retry_backoff_seconds() * 2 ** (receive_count - 1), BACKOFF_MAX_SECONDS)
    return random.randint(math.ceil(longest / 2), longest)


def _queue_of(record) -> str:
    """The name of the queue a record came from (the last part of its ARN)."""
    return record.event_source_arn.rsplit(":", 1)[-1]


def _backoff(record) -> None:
    """Delays the failed message's next delivery (`redelivery_delay`) instead of the queue's fixed visibility
    timeout, so a Stripe outage is not hammered."""
    count = int(record.attributes.get("ApproximateReceiveCount", "1"))
    queue_name = _queue_of(record)
    try:
        queue = deps().queue
        queue.client.change_message_visibility(QueueUrl=queue.url(queue_name), ReceiptHandle=record.receipt_handle,
                                               VisibilityTimeout=redelivery_delay(count))
    except Exception:  # the queue's own visibility timeout still brings it back
        log.warning("could not delay redelivery of %s", record.message_id, exc_info=True)


class TimeLeft:
    """What is left of this invocation's time, from its Lambda context (`event.context` in Chalice): whether it
    holds some more work and, after that, the function's answer."""

    # Kept back for what follows the last piece of work: the answer (and the log lines before it).
    ANSWER_SECONDS = 1.0

    def __init__(self, context) -> None:
        self._context = context

    def holds(self, seconds: float) -> bool:
        return self.seconds() >= seconds

    def seconds(self) -> float:
        """The time left for work: what is left of the invocation's, less the answer's."""
        return self._context.get_remaining_time_in_millis() / 1000 - self.ANSWER_SECONDS


def process(event, handle, *, message_seconds: float | None = None) -> dict:
    """Runs `handle(body, receive_count)` for every record; returns SQS's partial batch response.

    With `message_seconds` (one message at its slowest, then putting the rest back), a record is taken only while
    the function's remaining time holds that much: a function killed by its timeout reports nothing and backs off
    nothing, and its whole batch comes back as failed (docs/DESIGN.md "Time budgets"). The records left when time
    runs low are put back on the queue unhandled (`_put_back`)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    time_left = TimeLeft(event.context)
    left_over: list[SQSRecord] = []

    def one(record: SQSRecord) -> None:
        if left_over or (message_seconds is not None and not time_left.holds(message_seconds)):
            left_over.append(record)  # the batch's order is kept: once one is left, so is every one after it
            return
        observability.bind(message_id=record.message_id)
        try:
            body = json.loads(record.body)
            observability.bind(**{k: v for k, v in body.items() if k.endswith("_id")})
            handle(body, int(record.attributes.get("ApproximateReceiveCount", "1")))
        except Exception as error:
            # Powertools' batch processor logs a failed record only at debug level: without this line a worker's
            # failure (Stripe down, a refused permission) shows nowhere until the message reaches the DLQ. A message
            # that is only early (`expected`: a timer not due by this function's clock) is no failure.
            if getattr(error, "expected", False):
                log.info("message %s comes back after a backoff: %s", record.message_id, error)
            else:
                log.exception("message %s failed; it comes back after a backoff", record.message_id)
            _backoff(record)
            raise
        finally:
            observability.unbind()

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event.to_dict(), record_handler=one, processor=processor,
                                        context=event.context)
    if left_over:
        not_put_back = _put_back(left_over)
        response.setdefault("batchItemFailures", []).extend({"itemIdentifier": r.message_id} for r in not_put_back)
    return response


def _put_back(records) -> list:
    """Sends the messages of records left unhandled again, as new messages, for another invocation to take, and
    returns the records it could not put back: those are reported as failures, to come back after the queue's
    visibility timeout.

    Reporting them all as failures would be simpler, but SQS counts receives, not failures: each report would bring
    a message that was never tried one receive nearer the dead-letter queue (`MAX_RECEIVE_COUNT`, 5), and a long
    slowdown could leave timers there untried, their timer records already deleted by the sweep. A new message
    starts its count afresh (a message that had failed before gets its tries anew: later to the DLQ, never
    sooner), and the original, not reported, is deleted by the event source. One sent twice (a request retried
    after a lost answer) is handled twice, harmlessly, as any duplicate."""
    queue_name = _queue_of(records[0])
    readable, unreadable = [], []
    for record in records:
        try:
            readable.append((record, json.loads(record.body)))
        except ValueError:
            unreadable.append(record)  # it would fail when handled: it comes back and fails as any other does
    try:
        refused = deps().queue.send_batch(queue_name, [body for _, body in readable]) if readable else set()
    except Exception:
        log.warning("could not put %s unhandled messages back on %s; they come back after its visibility timeout",
                    len(records), queue_name, exc_info=True)
        return records
    log.warning("%s messages put back on %s unhandled: the function's time left holds no more of them",
                len(readable) - len(refused), queue_name)
    return unreadable + [record for position, (record, _) in enumerate(readable) if position in refused]


def _pay(body: dict, receive_count: int) -> None:
    from ..services.payouts import pay_out

    outcome = pay_out(deps(), body["payout_id"], receive_count=receive_count)
    log.info("payout %s: %s", body["payout_id"], outcome)


def _refund(body: dict, receive_count: int) -> None:
    from ..services.refunds import refund_unspent

    amount = refund_unspent(deps(), body["bounty_id"])
    log.info("bounty %s refunded %s", body["bounty_id"], amount)


# One message per invocation for the workers that call Stripe. A function killed by its timeout records no
# attempt and no backoff: every message of its batch comes back, and after maxReceiveCount such kills lands in the
# DLQ with its payout still queued, not failed. Alone, a message has the whole timeout for its Stripe requests at
# their slowest (the arithmetic: docs/DESIGN.md "Time budgets", checked by tests/infra/test_template.py), so these
# workers need no check of the time left before a message: they never have a second one.
STRIPE_BATCH_SIZE = 1


@bp.on_sqs_message(queue=config.payouts_queue_name(), batch_size=STRIPE_BATCH_SIZE)
def payouts_worker(event):
    return process(event, _pay)


@bp.on_sqs_message(queue=config.refunds_queue_name(), batch_size=STRIPE_BATCH_SIZE)
def refunds_worker(event):
    return process(event, _refund)


def _fire(body: dict, receive_count: int) -> None:
    from ..services.timers import fire

    log.info("timer %s %s: %s", body["kind"], body["ref_id"], fire(deps(), body["kind"], body["ref_id"]))


# A timers message at its slowest (docs/DESIGN.md "Time budgets"), every call at its slowest: its handler's DynamoDB
# calls (4 at most, as bench/round_trips counts them), the waits of its retry loop, and its SQS calls: the message
# it sends on, the backoff's change of visibility when it fails, and each queue's URL, looked up once per container.
TIMER_MESSAGE_DYNAMODB_CALLS = 4
TIMER_MESSAGE_SQS_CALLS = 4
# Putting the rest of a batch back: one SendMessageBatch, and the queue's URL if this container has not looked it up.
PUT_BACK_SQS_CALLS = 2
TIMERS_BATCH_SIZE = 10


def timer_message_seconds() -> float:
    """The time the timers worker must have left to take one more message of its batch: that message at its
    slowest, then putting back the ones after it (tests/infra/test_template.py: the function's timeout holds it)."""
    calls = TIMER_MESSAGE_DYNAMODB_CALLS + TIMER_MESSAGE_SQS_CALLS + PUT_BACK_SQS_CALLS
    return calls * config.aws_call_limits().slowest_seconds + RETRY_SECONDS


# Ten messages a batch, though ten at their slowest would outlast the timeout: healthy, a message takes
# milliseconds, and when calls slow down the worker stops taking messages before its time runs out.
@bp.on_sqs_message(queue=config.timers_queue_name(), batch_size=TIMERS_BATCH_SIZE)
def timers_worker(event):
    return process(event, _fire, message_seconds=timer_message_seconds())


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_timers(event):
    from ..services.timers import sweep

    sent = sweep(deps(), seconds_left=TimeLeft(event.context).seconds)
    if sent:
        log.info("timer sweep queued %s", sent)
    return {"queued": sent}
