"""The part of Lambda that `chalice local` lacks: feeds the SQS queues to the app's `@on_sqs_message` handlers and
fires its `@schedule` handlers, as the deployed event sources would.

Messages are handed over in Lambda's record shape; those the handler reports in `batchItemFailures` (or all of them,
if it raises) stay on the queue and come back after their visibility timeout, so retries, backoff and the
dead-letter queue behave as deployed. Each invocation gets a Lambda context telling the time left of its function's
timeout, which the handlers weigh their work against, as deployed (`LocalRunner.context_for`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("devtools.runner")

ACCOUNT = "123456789012"
ROOT = Path(__file__).resolve().parents[1]  # where .chalice/config.json says each function's timeout


class LocalRunner:
    def __init__(self, app, sqs=None):
        import boto3

        self.app = app
        self.sqs = sqs or boto3.client("sqs")
        self.region = self.sqs.meta.region_name
        self.queue_handlers = {s.queue: s.name for s in app.event_sources if hasattr(s, "queue")}
        # Each handler gets batches of the size its event source has deployed (the Stripe workers take one message).
        self.batch_sizes = {s.queue: s.batch_size or 10 for s in app.event_sources if hasattr(s, "queue")}
        self.schedules = [s.name for s in app.event_sources if hasattr(s, "schedule_expression")]
        self.chalice_config = _chalice_config()
        self._urls: dict[str, str] = {}
        self.failed_deliveries = 0  # messages a handler failed (reported, or the whole batch when it raised)

    def _url(self, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return self._urls[queue]

    def feed_once(self, queue: str, *, wait_seconds: int = 0, context=None) -> int:
        """Delivers one batch from `queue` to its handler (with `context`, a Lambda context of the caller's, instead of
        the function's own); returns how many messages it held."""
        url = self._url(queue)
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                            AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        size = self.batch_sizes[queue]
        for start in range(0, len(messages), size):
            batch = messages[start:start + size]
            records = [self._record(queue, m) for m in batch]
            try:
                result = self.invoke(self.queue_handlers[queue], {"Records": records}, context=context).payload or {}
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception:
                log.exception("handler for %s raised; the whole batch comes back", queue)
                self.failed_deliveries += len(batch)
                continue
            self.failed_deliveries += len(failed)
            for message in batch:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def invoke(self, name: str, event: dict, *, context=None):
        """Runs one handler on one event, as that function: its calls get that function's permissions
        (devtools/local_iam.py), and its Lambda context the function's timeout (`context_for`) unless `context` is
        given. The environment is the process's, as in `chalice local` (the local stage sets no variables)."""
        from chalice.test import InvokeResponse

        from . import local_iam

        with local_iam.running(name):
            return InvokeResponse(payload=self.app.handler_map[name](event, context or self.context_for(name)))

    def context_for(self, name: str):
        """A Lambda context for one invocation of the named function, counting down from its timeout as deployed
        (.chalice/config.json), stretched as much as the local stack stretches the limits of every AWS call
        (config.aws_call_limits: moto is slower than AWS). A handler weighs its time left against its calls at their
        slowest, so it then decides as it would deployed: a healthy batch is handled whole, where the context of
        Chalice's test client (3 s for every function), or the deployed timeout weighed against the local limits,
        would have the timers worker put back every message unhandled."""
        from chalice.local import LambdaContext

        from chalicelib import config

        scoped = self.chalice_config.scope("local", name)
        stretch = max(1.0, config.aws_call_limits().slowest_seconds / config.DEPLOYED_CALL_LIMITS.slowest_seconds)
        return LambdaContext(name, memory_size=scoped.lambda_memory_size,
                             max_runtime_ms=scoped.lambda_timeout * stretch * 1000)

    def _record(self, queue: str, message: dict) -> dict:
        return {
            "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{self.region}:{ACCOUNT}:{queue}",
            "awsRegion": self.region,
        }

    def feed_all(self) -> int:
        return sum(self.feed_once(queue) for queue in self.queue_handlers)

    def drain(self, rounds: int = 50) -> None:
        """Feeds every queue until none has a visible message (or `rounds` passes went by)."""
        for _ in range(rounds):
            if not self.feed_all():
                return

    def fire_schedules(self) -> None:
        for name in self.schedules:
            try:
                self.invoke(name, self._scheduled_event(name))
            except Exception:
                log.exception("schedule %s raised", name)

    def _scheduled_event(self, name: str) -> dict:
        return {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{ACCOUNT}:rule/{name}"], "detail": {},
        }

    def run(self, stop: threading.Event, *, schedule_seconds: float = 2.0) -> None:
        """Until `stop` is set: one long-polling thread per queue, and the schedules every `schedule_seconds`
        (deployed they run every minute; locally faster, so timers fire within seconds)."""
        threads = [threading.Thread(target=self._poll, args=(queue, stop), daemon=True, name=f"poll-{queue}")
                   for queue in self.queue_handlers]
        for thread in threads:
            thread.start()
        while not stop.wait(schedule_seconds):
            self.fire_schedules()
        for thread in threads:
            thread.join(timeout=5)

    def _poll(self, queue: str, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.feed_once(queue, wait_seconds=1)
            except Exception:
                log.exception("polling %s failed; retrying", queue)
                time.sleep(1)


def _chalice_config():
    from chalice.cli.factory import CLIFactory

    return CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")


def main() -> None:
    import signal

    from app import app  # its import sets up JSON logging on the root logger

    from . import local_iam

    local_iam.enforce_on_the_apps_clients()  # each handler's calls with its own function's permissions
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner = LocalRunner(app)
    log.info("feeding %s; schedules %s", ", ".join(runner.queue_handlers), ", ".join(runner.schedules))
    runner.run(stop, schedule_seconds=float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "2")))


if __name__ == "__main__":
    main()
