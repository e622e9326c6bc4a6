"""Structured JSON logs (Powertools' formatter on the root logger) and CloudWatch metrics (EMF).

Every log line carries the request id, path and, where known, the bounty id; nothing we log holds an
API key, a Stripe secret or card data (tests/api/test_logging.py searches the captured logs)."""

from __future__ import annotations

import logging
import os

_formatter = None


def setup_logging() -> None:
    global _formatter
    if _formatter is not None:
        return
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    _formatter = LambdaPowertoolsFormatter(service="bounty-board", utc=True)
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_bounty_json", False)]
    handler._bounty_json = True
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("botocore", "urllib3", "pynamodb", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
