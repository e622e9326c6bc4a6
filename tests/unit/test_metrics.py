"""observability.count: one EMF record per call, and nothing kept after it."""

from __future__ import annotations

import json

from aws_lambda_powertools import Metrics

from chalicelib import observability


def _held() -> dict:
    return Metrics(namespace="BountyBoard").metric_set


def test_each_count_is_printed_alone(monkeypatch, capsys):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    capsys.readouterr()
    observability.count("PayoutsFailed")
    observability.count("PayoutsFailed", 2)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["PayoutsFailed"] for record in printed] == [[1.0], [2.0]]  # nothing carried over
    assert _held() == {}


def test_with_metrics_disabled_nothing_is_printed_or_kept(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    for _ in range(3):
        observability.count("PayoutsFailed")
    assert capsys.readouterr().out == ""
    assert _held() == {}
