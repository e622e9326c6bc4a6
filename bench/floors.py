"""The floors our lifecycle is measured against, each a plain script on plain boto3 and Stripe SDK clients.

- `RawLifecycle` (the issue's floor): the minimum writes a lifecycle needs. No reads, no checks, no queue:
  create+confirm the PaymentIntent (1 Stripe request), PutItem bounty, claim, submission and payout, create the
  transfer (1 Stripe request), UpdateItem payout paid.
- `QueuedLifecycle`: the raw script with the one thing API.md itself prescribes on top: the transfer is made
  "from an SQS-triggered function", so the payout travels through a queue (send, receive, delete). Nothing else
  is added, so no implementation of the contract can beat it.
- `GuardedLifecycle`: the least any implementation must do to keep the guarantees the product promises, with every
  rule moved into DynamoDB condition expressions (no reads at all). Each of the four requests proves its API key
  (a ConditionCheck on the key's record) in the same all-or-nothing write as the change it makes, and each change
  is conditional on the state it leaves (a bounty with a slot left, a live claim of this freelancer, a submission
  pending review, a queued payout); Stripe's requests carry idempotency keys; the payout travels through SQS
  (send, receive, delete) so a failed transfer is retried and lands in a DLQ rather than being lost.

None enforces everything ours does (deadlines, one claim per freelancer, ledgers, timers, the answers an API
client needs): they are floors, not alternatives.
"""

from __future__ import annotations

import json
import time
import uuid

from .stack import Stack


def _attrs(**values) -> dict:
    return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in values.items()}


class RawLifecycle:
    TAG = "raw"  # in its ids, so each script's items can be told apart

    def __init__(self, stack: Stack, destination: str):
        import boto3
        import stripe

        from chalicelib.adapters import dynamo_models as m

        self.db = boto3.session.Session().client("dynamodb")
        self.stripe = stripe.StripeClient("sk_test_bench", base_addresses={"api": stack.stripe.url})
        self.destination = destination
        self.tables = {name: model.Meta.table_name for name, model in (
            ("bounty", m.BountyModel), ("claim", m.ClaimModel), ("submission", m.SubmissionModel),
            ("payout", m.PayoutModel), ("api_key", m.ApiKeyModel))}

    def _put(self, table: str, **attrs) -> None:
        self.db.put_item(TableName=self.tables[table], Item=_attrs(**attrs))

    def run_one(self) -> str:
        ids = {kind: f"{kind[:3]}_{self.TAG}{uuid.uuid4().hex[:20]}" for kind in ("bounty", "claim", "sub", "payout")}
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())
        intent = self.stripe.v1.payment_intents.create({"amount": 550, "currency": "usd", "confirm": True,
                                                        "payment_method": "pm_card_visa",
                                                        "payment_method_types": ["card"]})
        self._put("bounty", id=ids["bounty"], client_id="acct_raw", title="Label 20 images", reward=500,
                  currency="usd", slots=1, status="open", fee=50, amount_total=550, payment_intent_id=intent["id"],
                  created_at=now, sort_key=f"{now}#{ids['bounty']}")  # not in the open index: our listing
        # would trip over an item that lacks our fields
        self._put("claim", id=ids["claim"], bounty_id=ids["bounty"], freelancer_id="acct_rawf", status="live",
                  created_at=now, sort_key=f"{now}#{ids['claim']}")
        self._put("submission", id=ids["sub"], bounty_id=ids["bounty"], freelancer_id="acct_rawf",
                  content="Done: 20 images labelled.", status="pending_review", created_at=now,
                  sort_key=f"{now}#{ids['sub']}")
        self._put("payout", id=ids["payout"], submission_id=ids["sub"], bounty_id=ids["bounty"],
                  freelancer_id="acct_rawf", amount=500, currency="usd", status="queued", created_at=now,
                  sort_key=f"{now}#{ids['payout']}")
        self._pay(ids["payout"])
        return ids["bounty"]

    def _pay(self, payout_id: str) -> None:
        self._settle(payout_id)

    def _settle(self, payout_id: str) -> None:
        """Transfers the reward and marks the payout paid."""
        transfer = self.stripe.v1.transfers.create({"amount": 500, "currency": "usd",
                                                    "destination": self.destination})
        self.db.update_item(TableName=self.tables["payout"], Key={"id": {"S": payout_id}},
                            UpdateExpression="SET #s = :paid, transfer_id = :t",
                            ExpressionAttributeNames={"#s": "status"},
                            ExpressionAttributeValues={":paid": {"S": "paid"}, ":t": {"S": transfer["id"]}})


class QueuedLifecycle(RawLifecycle):
    """The raw script with the payout sent through SQS, as API.md prescribes: 3 SQS requests more."""

    TAG = "que"
    QUEUE = "bench-queued-floor-payouts"

    def __init__(self, stack: Stack, destination: str):
        import boto3

        super().__init__(stack, destination)
        self.sqs = boto3.session.Session().client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName=self.QUEUE)["QueueUrl"]

    def _pay(self, payout_id: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({"payout_id": payout_id}))
        [message] = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1)["Messages"]
        self._settle(json.loads(message["Body"])["payout_id"])
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


class GuardedLifecycle(QueuedLifecycle):
    """The raw script plus what the guarantees cost: 4 transactions and 1 conditional update, 3 SQS requests."""

    QUEUE = "bench-guarded-floor-payouts"

    def __init__(self, stack: Stack, destination: str, client: dict, freelancer: dict):
        from chalicelib.services.accounts import hash_api_key

        super().__init__(stack, destination)
        self.keys = {role: (hash_api_key(account["api_key"]), account["id"])
                     for role, account in (("client", client), ("freelancer", freelancer))}

    def _proves_key(self, role: str) -> dict:
        key_hash, account_id = self.keys[role]
        return {"ConditionCheck": {
            "TableName": self.tables["api_key"], "Key": {"key_hash": {"S": key_hash}},
            "ConditionExpression": "account_id = :me AND #role = :role AND revoked = :live",
            "ExpressionAttributeNames": {"#role": "role"},
            "ExpressionAttributeValues": {":me": {"S": account_id}, ":role": {"S": role}, ":live": {"BOOL": False}}}}

    def _new(self, table: str, **attrs) -> dict:
        return {"Put": {"TableName": self.tables[table], "Item": _attrs(**attrs),
                        "ConditionExpression": "attribute_not_exists(id)"}}

    def _move(self, table: str, key: str, *, was: str, becomes: str, extra: str = "", values: dict | None = None
              ) -> dict:
        return {"Update": {
            "TableName": self.tables[table], "Key": {"id": {"S": key}},
            "UpdateExpression": "SET #s = :becomes" + extra,
            "ConditionExpression": "#s = :was",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":was": {"S": was}, ":becomes": {"S": becomes}, **(values or {})}}}

    def run_one(self) -> str:
        ids = {kind: f"{kind[:3]}_grd{uuid.uuid4().hex[:20]}" for kind in ("bounty", "claim", "sub", "payout")}
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())
        client, freelancer = self.keys["client"][1], self.keys["freelancer"][1]
        intent = self.stripe.v1.payment_intents.create(
            {"amount": 550, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa",
             "payment_method_types": ["card"]}, {"idempotency_key": f"fund:{ids['bounty']}"})
        self.db.transact_write_items(TransactItems=[self._proves_key("client"), self._new(
            "bounty", id=ids["bounty"], client_id=client, title="Label 20 images", reward=500, currency="usd",
            slots=1, claimed=0, status="open", fee=50, amount_total=550, payment_intent_id=intent["id"],
            created_at=now, sort_key=f"{now}#{ids['bounty']}")])
        self.db.transact_write_items(TransactItems=[
            self._proves_key("freelancer"),
            {"Update": {"TableName": self.tables["bounty"], "Key": {"id": {"S": ids["bounty"]}},
                        "UpdateExpression": "SET claimed = claimed + :one",
                        "ConditionExpression": "#s = :open AND claimed < slots",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":open": {"S": "open"}, ":one": {"N": "1"}}}},
            self._new("claim", id=ids["claim"], bounty_id=ids["bounty"], freelancer_id=freelancer, status="live",
                      created_at=now, sort_key=f"{now}#{ids['claim']}")])
        self.db.transact_write_items(TransactItems=[
            self._proves_key("freelancer"),
            self._move("claim", ids["claim"], was="live", becomes="submitted"),
            self._new("submission", id=ids["sub"], bounty_id=ids["bounty"], freelancer_id=freelancer,
                      content="Done: 20 images labelled.", status="pending_review", created_at=now,
                      sort_key=f"{now}#{ids['sub']}")])
        self.db.transact_write_items(TransactItems=[
            self._proves_key("client"),
            self._move("submission", ids["sub"], was="pending_review", becomes="approved"),
            self._new("payout", id=ids["payout"], submission_id=ids["sub"], bounty_id=ids["bounty"],
                      freelancer_id=freelancer, amount=500, currency="usd", status="queued", created_at=now,
                      sort_key=f"{now}#{ids['payout']}")])
        self._pay(ids["payout"])
        return ids["bounty"]

    def _settle(self, payout_id: str) -> None:
        transfer = self.stripe.v1.transfers.create(
            {"amount": 500, "currency": "usd", "destination": self.destination, "metadata": {"payout_id": payout_id}},
            {"idempotency_key": f"transfer:{payout_id}"})
        self.db.update_item(**self._move("payout", payout_id, was="queued", becomes="paid",
                                         extra=", transfer_id = :t", values={":t": {"S": transfer["id"]}})["Update"])
