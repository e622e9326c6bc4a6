"""Creates the local stack's tables and queues (idempotently). On AWS they come from infra/."""

from __future__ import annotations

import json

from chalicelib import config

VISIBILITY_TIMEOUT_SECONDS = 60


def queue_names() -> list[str]:
    return [config.payouts_queue_name(), config.refunds_queue_name(), config.timers_queue_name()]


def create_queues(sqs) -> dict[str, str]:
    """Each queue with its dead-letter queue, as deployed: after max_receive_count tries a message moves."""
    urls = {}
    for name in queue_names():
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(config.max_receive_count())})
        urls[name] = sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS), "RedrivePolicy": redrive})["QueueUrl"]
    return urls


def provision() -> dict[str, str]:
    import boto3

    from chalicelib.adapters.dynamo import create_tables

    create_tables()
    return create_queues(boto3.client("sqs"))


if __name__ == "__main__":
    for queue, url in provision().items():
        print(f"{queue}: {url}")
