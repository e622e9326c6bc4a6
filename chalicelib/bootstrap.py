"""Builds the adapters once per container, on first use (short cold starts; tests set the env first)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from .services.deps import Deps


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _stripe_payments():
    from .adapters.stripe_payments import StripePayments

    return StripePayments()


@functools.cache
def deps() -> Deps:
    from .adapters.dynamo import DynamoRepository
    from .adapters.sqs_queue import SqsQueue

    return Deps(repo=DynamoRepository(), queue=SqsQueue(), clock=SystemClock(), payments_factory=_stripe_payments)
