"""`make reset` wipes the local state, but refuses while the stack that keeps it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools.servers import free_port
from devtools.stack import ROOT

pytestmark = pytest.mark.e2e


def _reset(state_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devtools.reset", "--state-dir", str(state_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_running_stack_keeps_its_state(local_stack):
    refused = _reset(local_stack.state_dir)
    assert refused.returncode == 1 and f"running at {local_stack.url}; stop it first" in refused.stderr, refused
    assert (local_stack.state_dir / "env.json").exists()


def test_the_state_a_crashed_stack_left_is_wiped(tmp_path):
    state = tmp_path / "local"
    state.mkdir()
    (state / "env.json").write_text(json.dumps({"PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}))
    (state / "aws-state.json").write_text("{}")
    wiped = _reset(state)
    assert wiped.returncode == 0, wiped
    assert not state.exists()
