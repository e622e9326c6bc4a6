"""JSON messages onto SQS queues, by queue name."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from .. import config
from ..ports import SEND_BATCH_LIMIT

log = logging.getLogger(__name__)


class SqsQueue:
    def __init__(self) -> None:
        self._client = None
        self._urls: dict[str, str] = {}

    @property
    def client(self):
        if self._client is None:
            import boto3  # created on first use: after the local stand-in is up, and off the cold start
            from botocore.config import Config

            limits = config.aws_call_limits()
            self._client = boto3.client("sqs", config=Config(
                connect_timeout=limits.connect_seconds, read_timeout=limits.read_seconds,
                retries={"total_max_attempts": limits.retries + 1, "mode": "standard"}))
        return self._client

    def url(self, queue_name: str) -> str:
        if queue_name not in self._urls:
            self._urls[queue_name] = self.client.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return self._urls[queue_name]

    def send(self, queue_name: str, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.client.send_message(QueueUrl=self.url(queue_name), MessageBody=json.dumps(body, sort_keys=True),
                                 DelaySeconds=delay_seconds)

    def send_batch(self, queue_name: str, bodies: Sequence[dict[str, Any]]) -> set[int]:
        refused: set[int] = set()
        for start in range(0, len(bodies), SEND_BATCH_LIMIT):
            entries = [{"Id": str(position), "MessageBody": json.dumps(body, sort_keys=True)}
                       for position, body in enumerate(bodies[start:start + SEND_BATCH_LIMIT], start)]
            answer = self.client.send_message_batch(QueueUrl=self.url(queue_name), Entries=entries)
            # Only an entry SQS lists as successful is known to be on the queue: a caller that goes on to forget
            # what the message carries (the sweep deletes its timer) must not do so for any other.
            taken = {entry["Id"] for entry in answer.get("Successful", [])}
            refused |= {int(entry["Id"]) for entry in entries if entry["Id"] not in taken}
            for failure in answer.get("Failed", []):
                log.warning("%s refused message %s of a batch: %s %s", queue_name, failure.get("Id"),
                            failure.get("Code"), failure.get("Message"))
        return refused
