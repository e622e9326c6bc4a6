"""`python -m bench.soak --smoke` against a stack of its own: the soak still runs, and finds nothing.

The soak is run by hand for minutes (docs/TESTING.md, section 8); this keeps its code from rotting between those
runs. Its smoke mode drives every action for a few seconds and runs every end-of-run check that needs no timer to
fire. The stack is its own, not the e2e tests' shared one: the soak's operator checks (`ops reconcile --all`, the
dead-letter queues, ERROR lines in the logs) read the whole stack, where other tests provoke failures on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.servers import free_port
from devtools.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
OURS = ("AWS_ENDPOINT_URL", "STRIPE_API_BASE", "STAGE", "TABLE_PREFIX", "QUEUE_PREFIX")

pytestmark = pytest.mark.e2e


def test_a_smoke_soak_runs_every_check_and_finds_nothing(tmp_path):
    report_file = tmp_path / "soak-report.json"
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    with LocalStack(port=free_port(), state_dir=tmp_path / "stack", quiet=True, schedule_seconds=1,
                    checkpoint_seconds=0) as stack:  # state saved once, on stopping
        done = subprocess.run(
            [sys.executable, "-m", "bench.soak", "--smoke", "--url", stack.url, "--state-dir", str(stack.state_dir),
             "--report", str(report_file), "--seed", "7"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    assert report_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]  # no report: the soak crashed
    report = json.loads(report_file.read_text())
    assert report["findings"] == [], json.dumps(report["findings"], indent=1)[:5000]
    assert done.returncode == 0, done.stderr[-3000:]
    # It did act, and the checks did read what it made back.
    assert report["smoke"] and report["responses"] > 50, report
    assert report["checked"]["bounties"] > 0 and report["actions"].get("claim"), report
    assert report["memory_mib"] and any(key.startswith("moto_server:") for key in report["memory_mib"][0]), report
