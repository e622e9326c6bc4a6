"""JSON messages onto SQS queues, by queue name."""

from __future__ import annotations

import json
from typing import Any

from .. import config


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
