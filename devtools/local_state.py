"""Keeps the local stack's AWS state across restarts: moto keeps nothing on disk, so on stop every item of our tables
and every message of our queues is written to a JSON file, and on start written back; while it runs, the tables are
checkpointed to the same file now and then. (localstripe keeps its own store in a pickle file beside it.)
Dev-only: this reads whole tables, which no request path ever does.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from chalicelib import config


def _encode(value):
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, set):
        return [_encode(v) for v in sorted(value)]
    return value


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save(path: Path, *, include_queues: bool = True) -> dict[str, int]:
    """Writes our tables (and, when stopping, our queues' messages) to `path`; returns counts for the log."""
    import boto3

    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    state: dict = {"tables": {}, "queues": {}}
    for table in _our_tables(dynamodb):
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        state["tables"][table] = items
    if include_queues:
        _release_in_flight()
        for url in sqs.list_queues(QueueNamePrefix=config.queue_prefix()).get("QueueUrls", []):
            state["queues"][url.rsplit("/", 1)[-1]] = _take_all(sqs, url)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_encode(state)))
    tmp.replace(path)
    return {"items": sum(map(len, state["tables"].values())), "messages": sum(map(len, state["queues"].values()))}


def restore(path: Path) -> dict[str, int]:
    """Puts a saved state back into freshly provisioned tables and queues."""
    import boto3

    if not path.exists():
        return {"items": 0, "messages": 0}
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    state = _decode(json.loads(path.read_text()))
    existing = set(_our_tables(dynamodb))
    items = messages = 0
    for table, rows in state["tables"].items():
        if table not in existing:
            continue
        for start in range(0, len(rows), 25):
            batch = [{"PutRequest": {"Item": row}} for row in rows[start:start + 25]]
            dynamodb.batch_write_item(RequestItems={table: batch})
            items += len(batch)
    for queue, bodies in state["queues"].items():
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
            messages += 1
    if items:  # saved by an older release or under other settings: bring the items up to date, as ops would
        from chalicelib.adapters.dynamo_upgrades import (
            closed_unpaid_with_intent,
            copy_work,
            end_cancelled_claims,
            file_unfunded_expiry,
            index_reviews,
            index_search,
            index_unpaid_payouts,
            note_submissions,
            reshard_open_bounties,
            reshard_timers,
            time_bounties,
        )

        index_unpaid_payouts()
        saved = state["tables"]
        open_shards = _shards_used(saved.get(config.table_prefix() + "bounties", []), "open_shard")
        if open_shards:
            reshard_open_bounties(open_shards)
        timer_shards = _shards_used(saved.get(config.table_prefix() + "timers", []), "shard")
        if timer_shards:
            reshard_timers(timer_shards)
        file_unfunded_expiry()
        note_submissions()
        copy_work()
        end_cancelled_claims()
        index_reviews()
        time_bounties()
        index_search()
        refunds = sqs.get_queue_url(QueueName=config.refunds_queue_name())["QueueUrl"]
        for bounty_id in closed_unpaid_with_intent():  # the refunds worker cancels each one's payment
            sqs.send_message(QueueUrl=refunds, MessageBody=json.dumps({"bounty_id": bounty_id}))
    return {"items": items, "messages": messages}


def _shards_used(rows: list[dict], attribute: str) -> int:
    """How many shards (`<name>#<number>`, numbered from 0) the saved rows were spread over."""
    numbers = [int(row[attribute]["S"].rpartition("#")[2]) for row in rows if attribute in row]
    return max(numbers) + 1 if numbers else 0


def _our_tables(dynamodb) -> list[str]:
    prefix = config.table_prefix()
    names = []
    for page in dynamodb.get_paginator("list_tables").paginate():
        names.extend(n for n in page["TableNames"] if n.startswith(prefix))
    return names


def _release_in_flight() -> None:
    """Messages a handler received and holds out of sight (backing off after a failure) are made visible first, so
    they are saved too (devtools.moto_server's dev route: SQS itself cannot list them)."""
    import urllib.request

    from devtools.servers import RELEASE_PATH

    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + RELEASE_PATH, data=b"", method="POST")
    urllib.request.urlopen(request, timeout=30).close()


def _take_all(sqs, url: str) -> list[str]:
    """Every message body, in-flight ones included (the stack is stopping; nothing else reads the queue)."""
    bodies = []
    while True:
        found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not found:
            return bodies
        bodies.extend(m["Body"] for m in found)


def main() -> None:
    """`python -m devtools.local_state save|checkpoint|restore PATH`, run by the stack in its own environment."""
    import sys

    action, path = sys.argv[1], Path(sys.argv[2])
    if action == "checkpoint":  # while running: the tables only (taking the queues' messages would steal them)
        save(path, include_queues=False)
        return
    counts = save(path) if action == "save" else restore(path)
    verb = "saved" if action == "save" else "restored"
    print(f"[stack] {verb} {counts['items']} items and {counts['messages']} queued messages ({path.parent})",
          flush=True)


if __name__ == "__main__":
    main()
