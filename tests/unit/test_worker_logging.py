"""Deployed, a worker's handler is `chalicelib.workers.queues.<name>`: app.py is never imported there, so the
workers must set up their own JSON logs, and a failed message must leave a line (Powertools logs it at debug). On
Lambda the runtime's own handler is on the root logger already: each record must still be written once, as JSON."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(probe: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(probe)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)


def test_importing_only_the_workers_module_sets_up_json_logs_at_info():
    done = _run("""
        import logging, sys
        import chalicelib.workers.queues as q
        from chalicelib import observability
        root = logging.getLogger()
        print(logging.getLevelName(root.level), [h.formatter is observability._formatter for h in root.handlers],
              'app' in sys.modules)
        q.log.info('payout %s: %s', 'po_1', 'paid')
    """)
    assert done.stdout.split() == ["INFO", "[True]", "False"], done
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "payout po_1: paid" and line["level"] == "INFO", line


# As the Lambda Python runtime (awslambdaric's bootstrap) sets up the root logger before it imports the handler's
# module: a handler writing each formatted record as it is, in the runtime's text format, and a filter stamping
# every record with the invocation's request id.
LAMBDA_RUNTIME_LOGGING = """
    import logging, sys

    class RuntimeHandler(logging.Handler):
        def emit(self, record):
            sys.stdout.write(self.format(record))

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = "8f5c-request"
            return True

    handler = RuntimeHandler()
    handler.setFormatter(logging.Formatter("[%(levelname)s]\\t%(asctime)s\\t%(aws_request_id)s\\t%(message)s\\n"))
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)
"""


def test_on_lambda_each_record_is_written_once_as_json_by_the_runtimes_handler():
    done = _run(LAMBDA_RUNTIME_LOGGING + """
    import chalicelib.workers.queues as q
    from chalicelib import observability
    observability.setup_logging()  # app.py calls it again after the workers module did
    q.log.info('payout %s: %s', 'po_1', 'paid')
    """)
    (line,) = done.stdout.splitlines()
    record = json.loads(line)
    assert record["message"] == "payout po_1: paid" and record["level"] == "INFO", record
    assert record["aws_request_id"] == "8f5c-request", "the runtime's request id is kept"
    assert done.stdout.endswith("\n"), "the runtime's handler adds no newline: the next record would run on"
    assert "payout po_1" not in done.stderr, "written a second time by a handler of ours"


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


def test_under_chalice_local_each_record_is_one_line_with_no_blank_line_after():
    """`chalice local` sets up logging to stdout before it imports the app: its handler gets our formatter."""
    done = _run("""
    import logging, sys
    logging.basicConfig(stream=sys.stdout)
    from chalicelib import observability
    observability.setup_logging()
    logging.getLogger("bounty.access").info("GET /v1/bounties -> 200")
    """)
    assert done.stdout.endswith("\n") and not done.stdout.endswith("\n\n"), done.stdout
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["message"] == "GET /v1/bounties -> 200"
