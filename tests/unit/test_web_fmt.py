"""How the web form shows and reads money and times."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import errors
from chalicelib.web import fmt


def test_money_in_major_units():
    assert fmt.money(1250, "usd") == "$12.50"
    assert fmt.money(123456789, "usd") == "$1,234,567.89"
    assert fmt.money(5, "eur") == "€0.05"
    assert fmt.money(300, "jpy") == "300 JPY"
    assert fmt.money(990, "chf") == "9.90 CHF"
    assert fmt.money(None) == "—"


@pytest.mark.parametrize("typed, minor", [("5", 500), ("5.5", 550), ("$12.50", 1250), (" 1,000 ", 100000),
                                          ("0.001", 1), ("", None), ("   ", None)])
def test_typed_amounts(typed, minor):
    assert fmt.parse_amount(typed) == minor


@pytest.mark.parametrize("typed", ["twelve", "-1", "NaN", "Infinity", "1e30"])
def test_nonsense_amounts_get_a_message(typed):
    with pytest.raises(errors.Invalid, match="Minimum reward must be an amount"):
        fmt.parse_amount(typed)


def test_times_and_durations():
    moment = datetime(2026, 11, 24, 13, 5, 59, tzinfo=UTC)
    assert fmt.when(moment) == "Tue 24 Nov 2026, 13:05 UTC"
    assert fmt.iso(moment) == "2026-11-24T13:05:59Z"
    assert [fmt.duration(s) for s in (0, 59, 60, 3599, 3600 * 3 + 300, 86400 * 3, 86400 * 3 + 7200)] == [
        "0 s", "59 s", "1 min", "59 min", "3 h 05 min", "3 days", "3 days 2 h"]
    assert fmt.until(moment + timedelta(minutes=90), moment) == "in 1 h 30 min"
    assert fmt.until(moment - timedelta(seconds=1), moment) == "passed"


def test_status_labels():
    assert fmt.status("pending_review") == "Pending review"
    assert fmt.status("awaiting_onboarding") == "Waiting for your payout set-up"
    assert fmt.status("something_new") == "Something new"


def test_work_under_a_minute_is_said_to_count_as_one():
    assert fmt.work_time(0.4) == fmt.work_time(59) == "under a minute (counted as one)"
    assert fmt.work_time(60) == "1 min" and fmt.work_time(45 * 60) == "45 min"
    assert fmt.work_time(None) == "—"


def test_a_mean_under_a_minute_counts_as_one_only_when_all_the_time_does():
    """A bounty's page shows the mean time of its approved pieces; the rate counts their time in all, and only a
    total under a minute as one. Three pieces of 30 s are 90 s: the page must not say each counted as a minute."""
    assert fmt.mean_work_time(30, 3) == "30 s"
    assert fmt.mean_work_time(20, 2) == fmt.mean_work_time(59, 1) == "under a minute (counted as one)"
    assert fmt.mean_work_time(45 * 60, 2) == "45 min"
