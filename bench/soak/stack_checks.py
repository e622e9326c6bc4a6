"""After the traffic: what the stack itself says. The operator commands, its queues, its logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.soak.record import Record

ROOT = Path(__file__).resolve().parents[2]


def _sqs(env: dict[str, str]):
    import boto3

    return boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def _waiting(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_for_idle_workers(record: Record, state_dir: Path, seconds: float) -> None:
    """Waits until the workers' queues hold no message, waiting or being handled: every payout, refund and timer
    the traffic queued has been dealt with, so what the checks read no longer moves."""
    sqs = _sqs(json.loads((state_dir / "env.json").read_text()))
    queues = [url for url in sqs.list_queues().get("QueueUrls", []) if not url.endswith("-dlq")]
    until = time.monotonic() + seconds
    while (waiting := sum(_waiting(sqs, url) for url in queues)) and time.monotonic() < until:
        time.sleep(1)
    if waiting:
        record.finding("workers", f"{waiting} messages still queued {seconds:.0f} s after the traffic")


def _ops(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", "--local", "--state-dir", str(state_dir), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def operator_checks(record: Record, state_dir: Path) -> None:
    """`ops reconcile --all` and `ops failed-payouts` find nothing, and no message reached a dead-letter queue."""
    result = _ops(state_dir, "reconcile", "--all", timeout=900)
    print(f"[soak] reconcile --all: exit {result.returncode}; {result.stdout.strip()[-800:]}", flush=True)
    if result.returncode != 0:
        record.finding("reconcile", "ops reconcile --all found differences", output=result.stdout[-2000:],
                       errors=result.stderr[-1000:])
    failed = _ops(state_dir, "failed-payouts", timeout=300)
    if failed.returncode != 0:
        record.finding("payouts", f"ops failed-payouts exited with {failed.returncode}", errors=failed.stderr[-1000:])
    lines = [line for line in failed.stdout.splitlines() if line.startswith("pay_")]
    if lines:
        record.finding("payouts", "failed payouts listed by ops failed-payouts", lines=lines[:5])
    sqs = _sqs(json.loads((state_dir / "env.json").read_text()))
    for url in sqs.list_queues().get("QueueUrls", []):
        waiting = _waiting(sqs, url)
        print(f"[soak] queue {url.rsplit('/', 1)[1]}: {waiting} messages", flush=True)
        if url.endswith("-dlq") and waiting:
            record.finding("dlq", f"{waiting} messages in {url.rsplit('/', 1)[1]}")


def scan_log(record: Record, log: Path | None, offset: int) -> None:
    """Every traceback (named by its last line, the exception) and every ERROR line of a log, from `offset` on."""
    if log is None or not log.exists():
        return
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = number + 1
            while end < len(lines) and (lines[end].startswith((" ", "During handling", "The above", "Traceback"))
                                        or not lines[end].strip()):
                end += 1
            error = lines[end] if end < len(lines) else "?"
            where = next((text.strip() for text in reversed(lines[number:end]) if text.strip().startswith("File")),
                         "")
            record.finding("log", f"{log.name}: traceback {_shape(error)[:120]} at {_shape(where)[:160]}",
                           traceback="\n".join(lines[max(0, number - 3):end + 1])[-3000:])
        elif '"level":"ERROR"' in line or '"level":"CRITICAL"' in line:
            try:
                message = json.loads(line).get("message", line)
            except ValueError:
                message = line
            record.finding("log", f"{log.name}: ERROR {_shape(str(message))[:200]}", line=line[:1500])


def _shape(text: str) -> str:
    """The text with its ids masked, so one kind of error is one finding however many records it hit."""
    return re.sub(r"(bty|sub|pay|clm|acct|msg|pi|tr|evt)_[A-Za-z0-9-]+", "<id>", text)
