"""What work actually paid per hour: pure arithmetic over approved submissions, no I/O.

The time a piece of work took is measured from the claim to the submission. Work handed in without a
claim first has no measured time and is left out of the rate (it still counts as earned elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from .rules import hourly_rate


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


MICROSECOND = timedelta(microseconds=1)


def work_seconds(claimed_at: datetime | None, submitted_at: datetime) -> Fraction | None:
    """Claim-to-submission time, exactly (to the microsecond), or None when there is nothing to measure. Exact, so
    that 50 cents for 100 s shows 1800 an hour, where seconds as a float made 1799."""
    if claimed_at is None:
        return None
    micros = (submitted_at - claimed_at) // MICROSECOND
    return Fraction(micros, 1_000_000) if micros > 0 else None


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
