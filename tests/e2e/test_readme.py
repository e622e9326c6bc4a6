"""The README's "Try it" walk-through, run as written against the `make run` stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def _try_it_block() -> str:
    text = README.read_text()
    match = re.search(r"<!-- try-it[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert match, "README has no try-it block"
    return match.group(1)


def test_readme_walkthrough_ends_with_a_paid_freelancer(local_stack):
    script = "set -eu\n" + _try_it_block()
    result = subprocess.run(["bash", "-c", script], env={**os.environ, "B": local_stack.url}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outputs = [line for line in result.stdout.splitlines() if line.startswith("{")]
    listing, claim, queue, approved, payouts_before, payouts_after, ledger = (json.loads(line) for line in outputs)
    # "open bounties: ours is there, $20.00/h effective"
    assert claim["id"].startswith("clm_") and claim["expires_at"], claim
    ours = [item for item in listing["items"] if item["id"] == claim["bounty_id"]]
    assert ours and ours[0]["effective_hourly_rate"] == {"amount": 2000, "currency": "usd"}, listing
    assert [item["status"] for item in queue["items"]] == ["pending_review"]
    assert approved["status"] == "approved" and approved["id"] == queue["items"][0]["id"]
    assert payouts_before["items"][0]["status"] == "awaiting_onboarding"
    assert payouts_after["items"][0]["status"] == "paid"
    assert payouts_after["items"][0]["transfer_id"].startswith("tr_")
    assert ledger["totals"] == {"funded": 550, "paid_out": 500, "fees": 50, "refunded": 0, "held": 0}
