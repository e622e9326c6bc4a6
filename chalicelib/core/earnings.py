"""What work pays per hour: pure arithmetic, no I/O.

The time a piece of work took is measured from the claim to the submission. Work handed in without a
claim first has no measured time and is left out of the rate (it still counts as earned elsewhere).
Three figures come from it: a freelancer's own achieved rate (over their approved work), a bounty's achieved
rate (over all approved work on it, so a freelancer sees what a task really pays before claiming it), and, beside
them, the rate a client's own time estimate promises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction


@dataclass(frozen=True)
class DoneWork:
    """One approved submission: its reward and when its work started and was handed in."""

    amount: int
    currency: str
    claimed_at: datetime | None
    submitted_at: datetime


@dataclass(frozen=True)
class AchievedRate:
    currency: str
    amount: int  # rewards of the timed work
    seconds: float  # claim-to-submission time of that work, added up
    pieces: int  # how many approved submissions were timed
    per_hour: int  # minor units per hour


@dataclass(frozen=True)
class BountyRate:
    """What approved work on one bounty earned per hour, from the time each freelancer took."""

    submissions: int  # approved submissions with a measured time
    mean_seconds: Fraction
    per_hour: int  # minor units per hour: all their rewards over all their time


MICROSECOND = timedelta(microseconds=1)
MICROS_PER_SECOND = 1_000_000


def hourly_rate(amount: int, minutes: int | Fraction) -> int:
    """Minor units per hour for `amount` earned over `minutes` of work (at least one), rounded down but never below
    one: a reward pays something however long it takes, and money is a positive amount (API.md). Exact: minutes
    are whole, or a Fraction, never a float (whose rounding could take a cent off a whole answer)."""
    return max(1, int(Fraction(amount * 60) // max(Fraction(minutes), 1)))


def work_micros(claimed_at: datetime | None, submitted_at: datetime) -> int | None:
    """Claim-to-submission time in whole microseconds, or None when there is nothing to measure."""
    if claimed_at is None:
        return None
    micros = (submitted_at - claimed_at) // MICROSECOND
    return micros if micros > 0 else None


def work_seconds(claimed_at: datetime | None, submitted_at: datetime) -> Fraction | None:
    """Claim-to-submission time, exactly (to the microsecond), or None when there is nothing to measure. Exact, so
    that 50 cents for 100 s shows 1800 an hour, where seconds as a float made 1799."""
    micros = work_micros(claimed_at, submitted_at)
    return None if micros is None else Fraction(micros, MICROS_PER_SECOND)


def achieved_rate(amount: int, claimed_at: datetime | None, submitted_at: datetime) -> int | None:
    """Minor units per hour one piece of work earned, or None when its time is unknown."""
    seconds = work_seconds(claimed_at, submitted_at)
    return None if seconds is None else hourly_rate(amount, seconds / 60)


def achieved_rates(work: Iterable[DoneWork]) -> list[AchievedRate]:
    """Per currency: all timed rewards over all timed hours (a total, not a mean of rates)."""
    totals: dict[str, tuple[int, Fraction, int]] = {}
    for piece in work:
        seconds = work_seconds(piece.claimed_at, piece.submitted_at)
        if seconds is None:
            continue
        amount, spent, pieces = totals.get(piece.currency, (0, Fraction(0), 0))
        totals[piece.currency] = (amount + piece.amount, spent + seconds, pieces + 1)
    return [AchievedRate(currency=currency, amount=amount, seconds=float(spent), pieces=pieces,
                         per_hour=hourly_rate(amount, spent / 60))
            for currency, (amount, spent, pieces) in sorted(totals.items())]


def bounty_rate(reward: int, timed_submissions: int, timed_micros: int) -> BountyRate | None:
    """A bounty's achieved rate from its running totals (see rules.approve), or None before any timed work."""
    if timed_submissions <= 0 or timed_micros <= 0:
        return None
    seconds = Fraction(timed_micros, MICROS_PER_SECOND)
    return BountyRate(submissions=timed_submissions, mean_seconds=seconds / timed_submissions,
                      per_hour=hourly_rate(reward * timed_submissions, seconds / 60))
