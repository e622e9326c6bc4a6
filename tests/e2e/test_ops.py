"""The operator commands of docs/OPERATIONS.md, run as documented against `make run`'s stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
import stripe

from tests.e2e.test_local_stack import _deadline

pytestmark = pytest.mark.e2e


def _ops(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", "--local", "--state-dir", str(stack.state_dir), *args],
                          capture_output=True, text=True, timeout=120)


def test_reconcile_failed_payouts_redrive_and_upgrade_commands(http, local_stack):
    client = http.account("client")
    bounty = http.ok("POST", "/v1/bounties", {
        "title": "Audit me", "description": "ops", "reward": {"amount": 900, "currency": "usd"},
        "deadline": _deadline(3600), "payment_method": "pm_card_visa"}, status=201, key=client["api_key"])

    agreed = _ops(local_stack, "reconcile", "--client", client["id"])
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert "1 bounties checked, 0 differences" in agreed.stdout

    # Money Stripe moved that our ledger does not know about is reported, and the command fails.
    stripe_client = stripe.StripeClient("sk_test_local", base_addresses={"api": local_stack.env["STRIPE_API_BASE"]})
    stripe_client.v1.refunds.create({"payment_intent": bounty["funding"]["payment_intent_id"], "amount": 100})
    differs = _ops(local_stack, "reconcile", "--bounty", bounty["id"])
    assert differs.returncode == 1
    assert "not in the ledger" in differs.stdout and bounty["id"] in differs.stdout

    listed = _ops(local_stack, "failed-payouts")
    assert listed.returncode == 0 and "failed payouts" in listed.stdout
    redriven = _ops(local_stack, "redrive", "--all-failed", "--dlq")
    assert redriven.returncode == 0 and "payouts re-driven" in redriven.stdout
    # Everything this release stored is in the unpaid index already: the upgrade step finds nothing to do.
    upgraded = _ops(local_stack, "index-unpaid")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.startswith("0 unpaid payouts stored before the unpaid index"), upgraded.stdout
    noted = _ops(local_stack, "note-submissions")  # every participant record of this release lists its submissions
    assert noted.returncode == 0 and noted.stdout.startswith("0 participant records"), noted
    copied = _ops(local_stack, "copy-work")  # every record of this release is in its freelancer's list already
    assert copied.returncode == 0 and copied.stdout.startswith("0 claims, submissions and payouts"), copied
    ended = _ops(local_stack, "end-cancelled-claims")  # this release's cancels filed their own timers
    assert ended.returncode == 0 and "cancelled bounties with claims still live" in ended.stdout, ended
    unpaid = _ops(local_stack, "cancel-unpaid-intents")  # this release's cancels and expiries queued their own
    assert unpaid.returncode == 0 and "closed before they were paid" in unpaid.stdout, unpaid
    resharded = _ops(local_stack, "reshard-open", "--from", "1", "--to", "1")
    assert resharded.returncode == 0 and resharded.stdout.startswith("0 open bounties moved"), resharded
    refused = _ops(local_stack, "reshard-open", "--from", "0", "--to", "1")
    assert refused.returncode == 2 and "at least 1" in refused.stderr
