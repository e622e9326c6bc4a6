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
    # Moving to a count the stage does not run with would hide items where it never reads: refused.
    for command, setting in (("reshard-open", "OPEN_INDEX_SHARDS"), ("reshard-timers", "TIMER_SHARDS")):
        hiding = _ops(local_stack, command, "--from", "1", "--to", "7")
        assert hiding.returncode == 1 and f"the stage runs with {setting}=" in hiding.stderr, hiding
    unknown = _ops(local_stack, "reconcile", "--client", "acct_nobody")  # a typo checks nothing: it says so
    assert unknown.returncode == 1 and "no such client account" in unknown.stderr, unknown
    usage = _ops(local_stack, "reconcile", "--help")
    assert "python -m ops (--local | --stage NAME) reconcile" in usage.stdout


def test_operator_mistakes_get_a_sentence_and_a_failing_exit_not_a_traceback(local_stack):
    import json

    settings = json.loads((local_stack.state_dir / "env.json").read_text())  # what `--local` commands run with
    assert settings["TIMER_SHARDS"] and settings["OPEN_INDEX_SHARDS"]  # where the stack's workers store items
    nothing = _ops(local_stack, "reconcile")
    assert nothing.returncode == 1 and "--bounty ID, --client ACCOUNT or --all" in nothing.stderr, nothing
    assert _ops(local_stack, "redrive").returncode == 1
    # The alarm's first step, run when every failed payout was dealt with already: nothing to do is no mistake.
    none_failed = _ops(local_stack, "redrive", "--all-failed")
    assert none_failed.returncode == 0 and "payouts re-driven" in none_failed.stdout, none_failed
    unknown = _ops(local_stack, "redrive", "pay_doesnotexist")
    assert unknown.returncode == 1 and "No payout pay_doesnotexist exists" in unknown.stdout, unknown
    assert "Traceback" not in unknown.stderr
    help_page = _ops(local_stack, "redrive", "--help")
    assert "send failed payouts (and dead letters) through again" in help_page.stdout


def test_a_redrive_repeated_after_the_payout_was_paid_reports_it_and_goes_on(http, local_stack):
    """`redrive` is safe to repeat: a payout paid meanwhile is reported and skipped, the rest are still sent."""
    import time
    import urllib.request

    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.ok("POST", "/v1/bounties", {
        "title": "Paid once", "description": "ops", "reward": {"amount": 600, "currency": "usd"},
        "deadline": _deadline(3600), "payment_method": "pm_card_visa"}, status=201, key=client["api_key"])
    sub = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                  key=freelancer["api_key"])
    approved = http.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client["api_key"])
    payout_id = approved["payout_id"]
    link = http.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
    urllib.request.urlopen(urllib.request.Request(link.replace("return_url=", "no_return="), data=b""),
                           timeout=10).close()  # the stand-in's "Complete onboarding" button
    for _ in range(150):
        payouts = http.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]
        if payouts and payouts[0]["status"] == "paid":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the payout was not paid")
    again = _ops(local_stack, "redrive", payout_id, payout_id, "pay_doesnotexist")
    assert again.returncode == 1, again
    assert again.stdout.count(f"{payout_id} is paid already") == 1 and "No payout pay_doesnotexist" in again.stdout
    assert "Traceback" not in again.stderr
