"""Deployed, a worker's handler is `chalicelib.workers.queues.<name>`: app.py is never imported there, so the
workers must set up their own JSON logs, and a failed message must leave a line (Powertools logs it at debug)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_only_the_workers_module_sets_up_json_logs_at_info():
    probe = ("import logging, chalicelib.workers.queues as q; root = logging.getLogger(); "
             "print(logging.getLevelName(root.level), any(getattr(h, '_bounty_json', False) for h in root.handlers), "
             "'app' in __import__('sys').modules); q.log.info('payout %s: %s', 'po_1', 'paid')")
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["INFO", "True", "False"], done
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "payout po_1: paid" and line["level"] == "INFO", line


def test_a_failed_message_is_logged_with_its_error(caplog):
    from chalicelib.workers import queues

    record = {"messageId": "m-1", "body": '["not", "an", "object"]', "attributes": {"ApproximateReceiveCount": "1"},
              "receiptHandle": "r", "eventSourceARN": "arn:aws:sqs:us-east-1:1:none", "messageAttributes": {},
              "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1"}

    def handle(body, receive_count):
        raise AssertionError("never reached: the body is no object")

    class Event:  # what Chalice hands an @on_sqs_message handler
        context = None

        def to_dict(self):
            return {"Records": [record]}

    from chalicelib.bootstrap import deps

    try:
        with caplog.at_level(logging.ERROR, logger=queues.log.name):
            result = queues.process(Event(), handle)
    finally:
        # The failure's backoff built the app's clients from this process's environment as it is now, before any
        # stand-in was started: later tests must build theirs afresh.
        deps.cache_clear()
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    [failed] = [r for r in caplog.records if r.name == queues.log.name]
    assert "m-1 failed" in failed.getMessage() and failed.exc_info is not None
