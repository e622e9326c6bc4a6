"""A short version of bench/fault_payouts.py (1,000 approvals, results in docs/FAULTS.md) in every test run."""

from __future__ import annotations

import pytest

from bench.fault_payouts import run


@pytest.mark.slow
def test_approvals_under_random_faults_are_paid_exactly_once(stack, localstripe_server, chalice_app):
    outcome = run(40, seed=3, fault_rate=0.3, stripe_url=localstripe_server.url)
    assert sum(outcome.faults.values()) > 0, "no fault was injected"
    assert outcome.look_ups >= 20, "the day-old half of the payouts should look for earlier transfers first"
    assert outcome.double_paid == 0
    assert outcome.lost == 0
    assert outcome.paid == outcome.approvals == 40
    assert outcome.ledger_differences == []
