"""The people, bounties and work the driver has made, as it last saw them."""

from __future__ import annotations

import collections
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CLOSED = {"completed", "expired", "cancelled"}


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC)


@dataclass
class Person:
    id: str
    key: str
    role: str
    onboarded: bool = False


@dataclass
class Bounty:
    id: str
    client: Person
    slots: int
    reward: int
    claim_seconds: int | None
    deadline: datetime
    amount_total: int
    payment_intent_id: str | None
    status: str


@dataclass
class Work:
    """A freelancer's claim or submission on a bounty, as the driver last saw it."""
    id: str
    bounty: Bounty
    freelancer: Person
    status: str
    expires_at: datetime | None = None
    claim_id: str | None = None


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.clients: list[Person] = []
        self.freelancers: list[Person] = []
        self.bounties: dict[str, Bounty] = {}
        self.claims: dict[str, Work] = {}
        self.submissions: dict[str, Work] = {}
        self.approved: dict[str, Work] = {}  # every submission ever answered `approved`
        self.ratings: dict[str, list[int]] = collections.defaultdict(list)  # freelancer id: ratings given

    def pick(self, items):
        with self.lock:
            items = list(items)
        return random.choice(items) if items else None

