"""A failed message's next delivery: later after each failure, up to a cap, and spread at random so that messages
failing together (a burst Stripe answered with 429) do not all come back at the same moment. Computed, not slept."""

from __future__ import annotations

import math

import pytest

from chalicelib.workers import queues

DRAWS = 400


@pytest.fixture(autouse=True)
def deployed_backoff(monkeypatch):
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "15")  # the deployed first delay (the tests' own is 0)


@pytest.mark.parametrize("receive_count, doubled", [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 480)])
def test_a_delay_lies_between_half_and_all_of_the_doubling_one(receive_count, doubled):
    delays = [queues.redelivery_delay(receive_count) for _ in range(DRAWS)]
    assert all(math.ceil(doubled / 2) <= delay <= doubled for delay in delays), (min(delays), max(delays))
    assert all(isinstance(delay, int) for delay in delays), "SQS takes whole seconds"


@pytest.mark.parametrize("receive_count", [7, 12, 60])
def test_the_cap_holds_with_the_jitter(receive_count):
    delays = [queues.redelivery_delay(receive_count) for _ in range(DRAWS)]
    assert all(queues.BACKOFF_MAX_SECONDS / 2 <= delay <= queues.BACKOFF_MAX_SECONDS for delay in delays)


def test_messages_that_failed_together_come_back_spread_out():
    delays = [queues.redelivery_delay(3) for _ in range(DRAWS)]
    # 31 possible delays from 30 s to 60 s: many distinct ones, over most of the window.
    assert len(set(delays)) > 20 and max(delays) - min(delays) >= 20, sorted(set(delays))


def test_no_backoff_configured_means_none(monkeypatch):
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "0")  # the local stack and the tests
    assert {queues.redelivery_delay(n) for n in range(1, 6)} == {0}
