"""How the web form shows and reads money and times. Pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ..core import errors, rules

# Stripe's zero-decimal currencies that anyone might configure; every other one has cents.
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                          "xaf", "xof", "xpf"})
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def _places(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def money(amount: int | None, currency: str = "usd") -> str:
    """Minor units as people read them: 1250 usd → "$12.50"; 300 jpy → "300 JPY"."""
    if amount is None:
        return "—"
    places = _places(currency)
    major = Decimal(amount).scaleb(-places)
    text = f"{major:,.{places}f}"
    symbol = SYMBOLS.get(currency.lower())
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def parse_amount(text: str, currency: str = "usd") -> int | None:
    """A typed amount in major units ("5", "5.50", "$5") → minor units; blank → None."""
    cleaned = text.strip().lstrip("$€£").replace(",", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > 10**9:
        raise errors.Invalid(f"Minimum reward must be an amount such as 5 or 12.50, not '{text.strip()}'.",
                             code="invalid_min_reward")
    minor = value.scaleb(_places(currency))
    return int(minor.to_integral_value(rounding="ROUND_CEILING"))


def when(moment: datetime | None) -> str:
    """A UTC time a person can read: "Tue 24 Nov 2026, 13:05 UTC"."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def work_time(seconds: float | None) -> str:
    """Time worked, as the achieved rate counts it: under a minute counts as a minute (core.earnings.hourly_rate), so
    the page says so rather than show a rate beside "0 s"."""
    if seconds is not None and seconds < 60:
        return "under a minute (counted as one)"
    return duration(seconds)


def mean_work_time(seconds: float | None, pieces: int) -> str:
    """The mean time of `pieces` of work: the rate counts their time in all, so "counted as one" only when all of it
    is under a minute (three pieces of 30 s are 90 s, counted as they are)."""
    if seconds is not None and seconds * pieces >= 60:
        return duration(seconds)
    return work_time(seconds)


def duration(seconds: float | None) -> str:
    """Roughly how long: "45 s", "12 min", "3 h 05 min", "2 days 4 h", "3 days"."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def until(moment: datetime | None, now: datetime) -> str:
    """ "in 3 h 05 min" or "passed"."""
    if moment is None:
        return ""
    left = (moment - now).total_seconds()
    return f"in {duration(left)}" if left > 0 else "passed"


STATUS_LABELS = {
    "open": "Open",
    "completed": "Completed",
    "expired": "Expired",
    "cancelled": "Cancelled",
    "awaiting_funding": "Awaiting funding",
    "funding_failed": "Funding failed",
    "live": "Held",
    "released": "Released",
    "used": "Submitted",
    "lapsed": "Lapsed",
    "pending_review": "Pending review",
    "approved": "Approved",
    "rejected": "Rejected",
    "queued": "Queued",
    "paid": "Paid",
    "awaiting_onboarding": "Waiting for your payout set-up",
    "failed": "Failed",
}


def status(value: str) -> str:
    return STATUS_LABELS.get(value, value.replace("_", " ").capitalize())


def requirements(required) -> str:
    """Who a bounty is open to, from its requirements: "a rating of at least 4.5/5 and at least 10 approved tasks"."""
    said = []
    if required.min_rating is not None:
        said.append(f"a rating of at least {rules.rating_text(required.min_rating)}/5")
    if required.min_completed is not None:
        plural = "s" if required.min_completed != 1 else ""
        said.append(f"at least {required.min_completed} approved task{plural}")
    return " and ".join(said)
