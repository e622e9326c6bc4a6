"""What DynamoDB reports it read, counted on a client through botocore's event hooks."""

from __future__ import annotations


class ReadCounter:
    """Counts what DynamoDB reports it read (ScannedCount) on every Query and Scan made through `client`."""

    def __init__(self, client):
        self.client = client
        self.items_read = 0
        self.calls: list[str] = []

    def __call__(self, http_response, parsed, model, **kwargs):
        self.calls.append(model.name)
        self.items_read += parsed.get("ScannedCount", 0)

    def __enter__(self):
        self.client.meta.events.register("after-call.dynamodb.Query", self)
        self.client.meta.events.register("after-call.dynamodb.Scan", self)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("after-call.dynamodb.Query", self)
        self.client.meta.events.unregister("after-call.dynamodb.Scan", self)
