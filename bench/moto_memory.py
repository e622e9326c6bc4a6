"""The dev moto server's memory under a steady load, sampled as it runs.

    .venv/bin/python -m bench.moto_memory --seconds 120 --threads 8 --load both

Starts `devtools.moto_server` as `make run` does (or uses `--url`), gives it one table and one queue, and has
`--threads` threads write, update, read and transact items (`dynamodb`), send, receive and delete messages
(`sqs`), or both, as fast as it answers. Items are rewritten in place over a fixed set of keys, so what the
server has to keep stays the same size however long the load runs: a resident size that keeps climbing is memory
the server holds on to for no item. Every `--every` seconds it prints the server's VmRSS and the requests made.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from pathlib import Path

ITEM_KEYS = 400  # distinct items the load keeps rewriting: the table's size stays fixed
ATTRIBUTES = 25  # about as many as the app's bounty records carry


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _clients(url: str):
    import boto3
    from botocore.config import Config

    settings = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
                    aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}))
    return boto3.client("dynamodb", **settings), boto3.client("sqs", **settings)


def provision(url: str) -> str:
    dynamodb, sqs = _clients(url)
    dynamodb.create_table(
        TableName="memory", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "owner", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_owner", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"},
                                               {"AttributeName": "sk", "KeyType": "RANGE"}]}])
    return sqs.create_queue(QueueName="memory", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]


def _item(pk: str, version: int) -> dict:
    item = {"pk": {"S": pk}, "sk": {"S": "record"}, "owner": {"S": f"owner-{hash(pk) % 20}"},
            "version": {"N": str(version)}, "tags": {"L": [{"S": "images"}, {"S": "text"}]},
            "totals": {"M": {"funded": {"N": "550"}, "held": {"N": "550"}, "fees": {"N": "50"}}}}
    for n in range(ATTRIBUTES - len(item)):
        item[f"field_{n}"] = {"S": uuid.uuid4().hex}
    return item


def dynamodb_step(dynamodb) -> int:
    """One round of the calls the app makes most: put, conditional update, get, query, and a transaction (now and
    then one whose condition fails). Returns the requests made."""
    first, second = random.sample(range(ITEM_KEYS), 2)  # a transaction may name an item only once
    pk = f"item-{first}"
    key = {"pk": {"S": pk}, "sk": {"S": "record"}}
    dynamodb.put_item(TableName="memory", Item=_item(pk, 1))
    dynamodb.update_item(TableName="memory", Key=key, UpdateExpression="SET version = version + :one",
                         ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":one": {"N": "1"}})
    dynamodb.get_item(TableName="memory", Key=key)
    dynamodb.query(TableName="memory", IndexName="by_owner", Limit=20,
                   KeyConditionExpression="#o = :o", ExpressionAttributeNames={"#o": "owner"},
                   ExpressionAttributeValues={":o": {"S": f"owner-{random.randrange(20)}"}})
    other = {"pk": {"S": f"item-{second}"}, "sk": {"S": "record"}}
    failing = random.random() < 0.2
    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "memory", "Key": key, "UpdateExpression": "SET version = version + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": "memory", "Key": other,
                                "ConditionExpression": "attribute_not_exists(pk)" if failing
                                else "attribute_exists(pk) OR attribute_not_exists(pk)"}}])
    except dynamodb.exceptions.TransactionCanceledException:
        pass
    return 5


def sqs_step(sqs, queue_url: str) -> int:
    """Send a few messages, receive them and delete them, as the runner feeds the workers."""
    sqs.send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": str(n), "MessageBody": f'{{"payout_id": "pay_{uuid.uuid4().hex}", "pad": "{"x" * 300}"}}'}
        for n in range(3)])
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = received.get("Messages", [])
    if messages:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
    return 3 if messages else 2


def run_load(url: str, pid: int, *, seconds: float, threads: int, load: str, every: float) -> list[tuple]:
    """Returns (elapsed s, VmRSS MiB, requests so far) samples, the first before any load."""
    queue_url = provision(url)
    made = [0] * threads
    stop = threading.Event()

    def work(slot: int) -> None:
        dynamodb, sqs = _clients(url)
        turn = 0
        while not stop.is_set():
            turn += 1
            if load == "dynamodb" or (load == "both" and turn % 2):
                made[slot] += dynamodb_step(dynamodb)
            else:
                made[slot] += sqs_step(sqs, queue_url)

    workers = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(threads)]
    started = time.monotonic()
    samples = [(0.0, resident_mib(pid), 0)]
    print(f"{'s':>5} {'VmRSS MiB':>10} {'requests':>9}", flush=True)
    print(f"{0:5.0f} {samples[0][1]:10.1f} {0:9d}", flush=True)
    for worker in workers:
        worker.start()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(every, seconds - elapsed))
        samples.append((time.monotonic() - started, resident_mib(pid), sum(made)))
        print(f"{samples[-1][0]:5.0f} {samples[-1][1]:10.1f} {samples[-1][2]:9d}", flush=True)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--load", choices=["dynamodb", "sqs", "both"], default="both")
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--url", help="a moto server already running (needs --pid)")
    parser.add_argument("--pid", type=int, help="the process id of the server at --url")
    args = parser.parse_args(argv)
    if args.url:
        run_load(args.url, args.pid, seconds=args.seconds, threads=args.threads, load=args.load, every=args.every)
        return
    from devtools.servers import start_moto

    server = start_moto()
    try:
        samples = run_load(server.url, server.process.pid, seconds=args.seconds, threads=args.threads,
                           load=args.load, every=args.every)
    finally:
        server.stop()
    first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
    rate = (last[1] - first[1]) / max(last[0] - first[0], 1)
    print(f"growth after the first sample: {rate:.2f} MiB/s, {last[2] / last[0]:.0f} requests/s", flush=True)


if __name__ == "__main__":
    main()
