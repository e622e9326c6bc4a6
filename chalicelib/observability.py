"""Structured JSON logs (Powertools' formatter on the root logger's handlers) and CloudWatch metrics (EMF).

Every log line carries the request id, path and, where known, the bounty id; nothing we log holds an
API key, a Stripe secret or card data (tests/api/test_logging.py searches the captured logs)."""

from __future__ import annotations

import json
import logging
import os

_formatter = None


def setup_logging() -> None:
    """Every record of the root logger written once, as one JSON line; calling it again changes nothing.

    On Lambda the runtime has put its own handler on the root logger before our code is imported: it writes to
    the function's log stream and stamps each record with the invocation's `aws_request_id` (a filter of its own,
    kept, so that id is in our JSON too). A handler of ours beside it would have every record written twice,
    once as the runtime's plain text and once as JSON, so its handler gets our formatter instead; so does any
    other already there (`chalice local` logs to stdout). Where nothing handles the root logger yet (the local
    runner, `ops`), a handler writing to stderr is added."""
    global _formatter
    if _formatter is not None:
        return
    _formatter = _json_lines_formatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(_formatter)
        if isinstance(handler, logging.StreamHandler):
            handler.terminator = ""  # the formatter ends each record's line (a blank line followed each)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("botocore", "urllib3", "pynamodb", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _json_lines_formatter() -> logging.Formatter:
    """Powertools' JSON, one line a record, newline included: the runtime's handler writes what its formatter
    returns as it is (its own formats end in a newline; without one, records would run together on stdout where
    Lambda's framed log pipe is absent)."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    def one_line(log: dict) -> str:
        return json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False) + "\n"

    return LambdaPowertoolsFormatter(service="bounty-board", utc=True, json_serializer=one_line)


def bind(**keys) -> None:
    """Adds keys to every following log line of this invocation."""
    if _formatter is not None:
        _formatter.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})


def unbind() -> None:
    if _formatter is not None:
        _formatter.thread_safe_clear_keys()


def count(metric: str, value: int = 1) -> None:
    """One EMF record per call: cheap, and nothing is lost if the invocation dies later."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = Metrics(namespace="BountyBoard", service=os.environ.get("STAGE", "local"))
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
    # The metric set is shared by every Metrics instance, and Powertools empties it only when it prints it: with
    # POWERTOOLS_METRICS_DISABLED (the bench) it would grow for the life of the process.
    metrics.clear_metrics()
