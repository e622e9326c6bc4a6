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


def _backoff(record) -> None:
    """Delays the failed message's next delivery (`redelivery_delay`) instead of the queue's fixed visibility
    timeout, so a Stripe outage is not hammered."""
    count = int(record.attributes.get("ApproximateReceiveCount", "1"))
    queue_name = record.event_source_arn.rsplit(":", 1)[-1]
    try:
        queue = deps().queue
        queue.client.change_message_visibility(QueueUrl=queue.url(queue_name), ReceiptHandle=record.receipt_handle,
                                               VisibilityTimeout=redelivery_delay(count))
    except Exception:  # the queue's own visibility timeout still brings it back
        log.warning("could not delay redelivery of %s", record.message_id, exc_info=True)


def process(event, handle) -> dict:
    """Runs `handle(body, receive_count)` for every record; returns SQS's partial batch response."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def one(record: SQSRecord) -> None:
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
    return process_partial_response(event=event.to_dict(), record_handler=one, processor=processor,
                                    context=event.context)


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
# their slowest (the arithmetic: docs/DESIGN.md "Time budgets", checked by tests/infra/test_template.py).
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


@bp.on_sqs_message(queue=config.timers_queue_name(), batch_size=10)
def timers_worker(event):
    return process(event, _fire)


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_timers(event):
    from ..services.timers import sweep

    sent = sweep(deps())
    if sent:
        log.info("timer sweep queued %s", sent)
    return {"queued": sent}
