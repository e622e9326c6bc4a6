"""The achieved hourly rate: rewards of approved work over the time from claim to submission."""

from datetime import UTC, datetime, timedelta

from chalicelib.core.earnings import DoneWork, achieved_rate, achieved_rates, bounty_rate, work_seconds

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_one_piece_paid_500_for_30_minutes_earns_1000_an_hour():
    assert achieved_rate(500, T0, T0 + timedelta(minutes=30)) == 1000


def test_work_without_a_claim_or_with_no_elapsed_time_has_no_rate():
    assert achieved_rate(500, None, T0) is None
    assert achieved_rate(500, T0, T0) is None
    assert work_seconds(T0 + timedelta(seconds=5), T0) is None


def test_under_a_minute_counts_as_a_minute_like_the_posted_rate():
    assert achieved_rate(100, T0, T0 + timedelta(seconds=3)) == 6000


def test_total_is_all_rewards_over_all_hours_per_currency_not_a_mean_of_rates():
    work = [
        DoneWork(1000, "usd", T0, T0 + timedelta(hours=1)),  # 1000/h
        DoneWork(1000, "usd", T0, T0 + timedelta(hours=3)),  # 333/h; the mean of rates would be 666
        DoneWork(400, "eur", T0, T0 + timedelta(minutes=20)),
        DoneWork(9999, "usd", None, T0),  # untimed: left out
        DoneWork(9999, "usd", T0, T0),  # no time elapsed: left out
    ]
    usd_total = 2000 * 60 // (4 * 60)
    [eur, usd] = achieved_rates(work)
    assert (usd.currency, usd.amount, usd.pieces, usd.per_hour) == ("usd", 2000, 2, usd_total)
    assert usd.seconds == 4 * 3600
    assert (eur.currency, eur.per_hour, eur.pieces) == ("eur", 1200, 1)


def test_no_timed_work_means_no_rate():
    assert achieved_rates([]) == []
    assert achieved_rates([DoneWork(500, "usd", None, T0)]) == []


def test_the_rate_is_exact_where_seconds_as_a_float_took_a_cent_off():
    """50 cents over exactly 100 s is 1800 an hour; 100/60 minutes as a float made it 1799 (and 6,579 other
    reward/time pairs under 400 cents and 4,000 s likewise)."""
    assert achieved_rate(50, T0, T0 + timedelta(seconds=100)) == 1800
    for cents in range(50, 400, 7):
        for seconds in range(60, 4000, 13):
            expected = cents * 3600 // seconds
            assert achieved_rate(cents, T0, T0 + timedelta(seconds=seconds)) == max(1, expected), (cents, seconds)
    [rate] = achieved_rates([DoneWork(25, "usd", T0, T0 + timedelta(seconds=40)),
                             DoneWork(25, "usd", T0, T0 + timedelta(seconds=60))])
    assert rate.per_hour == 1800 and rate.seconds == 100.0


def test_a_bountys_rate_is_all_its_rewards_over_all_its_time():
    assert bounty_rate(500, 0, 0) is None
    rate = bounty_rate(500, 3, 90 * 60 * 1_000_000)  # 1500 for an hour and a half
    assert rate.per_hour == 1000 and rate.mean_seconds == 30 * 60 and rate.submissions == 3
    assert bounty_rate(500, 2, 10 * 1_000_000).per_hour == 60_000  # under a minute in all counts as one
