"""Stopping and starting `make run` keeps accounts, bounties, queued work and Stripe's state."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from devtools.servers import free_port, wait_for_http
from devtools.stack import LocalStack
from tests.e2e.conftest import Http

pytestmark = pytest.mark.e2e


def _payouts_dlq(stack: LocalStack):
    """A dead-letter queue of the stack: saved like every queue of ours, and polled by nothing, so a probe stays."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    [dlq] = [url for url in sqs.list_queues()["QueueUrls"] if url.endswith("payouts-dlq")]
    return sqs, dlq


def test_state_survives_a_restart(tmp_path):
    """Tables, Stripe's objects and queued messages, those a handler holds out of sight while it backs off after a
    failure (received, not deleted) included."""
    port = free_port()
    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        http = Http(stack.url)
        client = http.account("client")
        bounty = http.ok("POST", "/v1/bounties", {
            "title": "Survives", "description": "a restart", "reward": {"amount": 700, "currency": "usd"},
            "deadline": deadline, "payment_method": "pm_card_visa"}, status=201, key=client["api_key"])
        sqs, dlq = _payouts_dlq(stack)
        sqs.send_message(QueueUrl=dlq, MessageBody='{"probe": "held"}')
        held = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=600)["Messages"]
        assert [m["Body"] for m in held] == ['{"probe": "held"}']
    assert (tmp_path / "aws-state.json").exists() and (tmp_path / "stripe.pickle").exists()

    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        sqs, dlq = _payouts_dlq(stack)
        back = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        assert [m["Body"] for m in back] == ['{"probe": "held"}']
        http = Http(stack.url)
        again = http.ok("GET", f"/v1/bounties/{bounty['id']}", key=client["api_key"])
        assert again["status"] == "open" and again["funding"] == bounty["funding"]
        assert http.ok("GET", "/v1/accounts/me", key=client["api_key"])["id"] == client["id"]
        stripe_client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.env["STRIPE_API_BASE"]})
        intent = stripe_client.v1.payment_intents.retrieve(bounty["funding"]["payment_intent_id"])
        assert intent["status"] == "succeeded" and intent["amount"] == 770
        ledger = http.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client["api_key"])
        assert ledger["totals"]["funded"] == 770


def test_reset_starts_from_nothing(tmp_path):
    with LocalStack(port=free_port(), state_dir=tmp_path, quiet=True) as stack:
        key = Http(stack.url).account("client")["api_key"]
    for leftover in tmp_path.iterdir():
        if leftover.suffix in (".json", ".pickle"):
            leftover.unlink()  # what `make reset` does to .local/
    with LocalStack(port=free_port(), state_dir=tmp_path, quiet=True) as stack:
        assert Http(stack.url).call("GET", "/v1/accounts/me", key=key)[0] == 401


def test_a_crash_loses_at_most_the_last_checkpoint(tmp_path):
    """kill -9 of everything (no graceful stop, so no final save): the tables come back from the last checkpoint."""
    port = free_port()
    stack = LocalStack(port=port, state_dir=tmp_path, quiet=True, checkpoint_seconds=0.5).__enter__()
    try:
        client = Http(stack.url).account("client")
        saved = tmp_path / "aws-state.json"
        for _ in range(200):  # the next checkpoint after the sign-up
            if saved.exists() and client["id"] in saved.read_text():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no checkpoint holds the new account")
    finally:
        stack._stopping.set()
        for process in [*stack.processes, *(server.process for server in stack.servers)]:
            process.kill()
            process.wait()
        stack.processes.clear()
        stack.servers.clear()
    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        assert Http(stack.url).ok("GET", "/v1/accounts/me", key=client["api_key"])["id"] == client["id"]


def test_killing_the_stack_itself_takes_its_servers_with_it_so_it_starts_again(tmp_path):
    """`kill -9` of `make run`'s own process (not of everything, as above): its servers, each in a session of its
    own, must not live on holding their ports, or the next start fails with "Address already in use"."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys

    from devtools.stack import ROOT

    ports = {"PORT": free_port(), "MOTO_PORT": free_port(), "STRIPE_PORT": free_port()}
    driver = ("import sys, time; from pathlib import Path; from devtools.stack import LocalStack\n"
              f"stack = LocalStack(port={ports['PORT']}, state_dir=Path(sys.argv[1]), quiet=True,\n"
              "                   checkpoint_seconds=0.5).__enter__()\n"
              "print('up', flush=True); time.sleep(600)")
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    stack = subprocess.Popen([sys.executable, "-c", driver, str(tmp_path)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert stack.stdout.readline().strip() == "up"
        client = Http(f"http://127.0.0.1:{ports['PORT']}").account("client")
        assert json.loads((tmp_path / "env.json").read_text())["AWS_ENDPOINT_URL"].endswith(str(ports["MOTO_PORT"]))
        saved = tmp_path / "aws-state.json"
        for _ in range(200):  # the next checkpoint after the sign-up: a crash loses only what came after it
            if saved.exists() and client["id"] in saved.read_text():
                break
            time.sleep(0.1)
    finally:
        os.kill(stack.pid, signal.SIGKILL)
        stack.wait()

    def listening(port: int) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    for _ in range(100):
        if not any(listening(port) for port in ports.values()):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"servers of the killed stack still listen: {ports}")
    with LocalStack(port=ports["PORT"], state_dir=tmp_path, quiet=True) as again:
        assert Http(again.url).ok("GET", "/v1/accounts/me", key=client["api_key"])["id"] == client["id"]


def test_make_run_stopped_with_sigterm_stops_everything_it_started(tmp_path):
    """API.md: SIGTERM stops everything. Sent to `make run` alone (a process manager, `kill PID`), make exits
    without waiting for a shell's grandchild; the stack, make's own child, stops with it and saves its state."""
    import os
    import signal
    import socket
    import subprocess

    from devtools.stack import ROOT

    port = free_port()
    make = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT,
                            env={**os.environ, "LOCAL_STATE_DIR": str(tmp_path)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=90, process=make)
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=30)

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        deadline = time.monotonic() + 30
        while listening() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(), "the stack outlived make run"
        assert (tmp_path / "aws-state.json").exists()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
