"""The functions' IAM policies (infra/build_template.py) allow every DynamoDB action the app really sends: each call
the app's own clients make during a whole lifecycle is recorded with botocore's event hooks, and a transaction's
items are counted as the actions IAM authorises them by."""

from __future__ import annotations

import pytest

from infra.build_template import TABLE_ACTIONS

TRANSACTION_ITEM_ACTIONS = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem",
                            "ConditionCheck": "ConditionCheckItem"}


@pytest.fixture
def sent(chalice_app):
    from chalicelib.adapters import dynamo, dynamo_models
    from chalicelib.bootstrap import deps

    assert deps().repo is not None  # built, so the models are bound to their tables
    actions: set[str] = set()

    def record(params, model, **_):
        if model.name == "TransactWriteItems":
            actions.update(TRANSACTION_ITEM_ACTIONS[kind] for item in params["TransactItems"] for kind in item)
        else:
            actions.add(model.name)

    clients = {id(c): c for c in [dynamo._connection().client] +
               [model._get_connection().connection.client for model in dynamo_models.ALL_MODELS]}
    for client in clients.values():
        client.meta.events.register("before-parameter-build.dynamodb", record)
    yield actions
    for client in clients.values():
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def test_every_dynamodb_action_of_a_lifecycle_is_allowed(api, workers, sent, client_acct, payable_freelancer):
    key, fkey = client_acct["api_key"], payable_freelancer["api_key"]
    bounty = api.bounty(key, slots=2)
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", {}, status=201, key=fkey,
                   headers={"Idempotency-Key": "iam-claim"})
    api.ok("POST", f"/v1/claims/{claim['id']}/release", {}, key=fkey)
    submission = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201, key=fkey)
    api.ok("POST", f"/v1/submissions/{submission['id']}/approve", {"rating": 5}, key=key)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", {}, key=key)
    api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key)
    workers.drain()
    workers.sweep()
    assert {"BatchGetItem", "UpdateItem", "ConditionCheckItem", "PutItem"} <= sent, sent
    allowed = {action.removeprefix("dynamodb:") for action in TABLE_ACTIONS}
    assert sent <= allowed, sent - allowed
