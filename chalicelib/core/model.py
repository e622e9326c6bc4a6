"""The domain's records: plain dataclasses, no I/O. `version` is the version they were read at (0 = new)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

CLIENT = "client"
FREELANCER = "freelancer"

# Bounty statuses
AWAITING_FUNDING = "awaiting_funding"
OPEN = "open"
COMPLETED = "completed"
EXPIRED = "expired"
CANCELLED = "cancelled"
FUNDING_FAILED = "funding_failed"

# Claim statuses
LIVE = "live"
RELEASED = "released"
USED = "used"
LAPSED = "lapsed"

# Submission statuses
PENDING_REVIEW = "pending_review"
APPROVED = "approved"
REJECTED = "rejected"
SUBMISSION_STATUSES = (PENDING_REVIEW, APPROVED, REJECTED)

# Payout statuses
QUEUED = "queued"
PAID = "paid"
AWAITING_ONBOARDING = "awaiting_onboarding"
FAILED = "failed"
PAYOUT_STATUSES = (QUEUED, PAID, AWAITING_ONBOARDING, FAILED)
UNPAID = "unpaid"  # a filter, not a status: every payout not yet paid


def new_id(prefix: str) -> str:
    """Opaque, unique, and roughly time-ordered (helps humans reading logs)."""
    return f"{prefix}{int(time.time() * 1000):011x}{secrets.token_hex(8)}"


def child_id(prefix: str, bounty_id: str, freelancer_id: str) -> str:
    """An id that names its bounty and freelancer, so the records a request on it needs can be read together
    with it in one round trip instead of one after another."""
    return f"{prefix}{_token(bounty_id)}-{_token(freelancer_id)}-{secrets.token_hex(4)}"


def parents_of(record_id: str) -> tuple[str, str] | None:
    """(bounty_id, freelancer_id) named by a child_id; None for ids without them (older ones, or made up)."""
    _, _, rest = record_id.partition("_")
    parts = rest.split("-")
    if len(parts) != 3 or not all(part and all(c in _HEX for c in part) for part in parts):
        return None
    return "bty_" + parts[0], "acct_" + parts[1]


_HEX = frozenset("0123456789abcdef")


def _token(parent_id: str) -> str:
    return parent_id.partition("_")[2]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Account:
    id: str
    role: str
    name: str
    email: str
    created_at: datetime
    stripe_account_id: str | None = None
    payouts_enabled: bool = False
    rating_sum: int = 0
    rating_count: int = 0
    completed: int = 0
    earned: dict[str, int] = field(default_factory=dict)  # currency -> minor units paid out
    # Idempotency keys for creating its Stripe account that Stripe answered with a server error (which it replays
    # to every retry under the key): the next try takes a new one.
    connect_keys_spent: int = 0
    # Live API keys, kept by adding and revoking in the same write as the key, so that the limit holds under racing
    # requests. None on accounts made before it was kept: counted from the listing on their first change.
    live_keys: int | None = None
    version: int = 0


@dataclass
class ApiKey:
    key_hash: str
    key_id: str
    account_id: str
    role: str
    created_at: datetime
    revoked: bool = False
    # Web sessions signed in with this key before this moment (unix seconds) are over: their owner signed out.
    sessions_from: float | None = None
    version: int = 0


@dataclass
class Bounty:
    id: str
    client_id: str
    title: str
    description: str
    reward: int
    currency: str
    slots: int
    deadline: datetime
    review_window_seconds: int
    claim_seconds: int | None
    estimated_minutes: int | None
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    fee: int
    amount_total: int
    # Slot accounting: free + claimed + pending + approved + refund_owed + refunding + refunded == slots, always.
    free_slots: int
    claimed_slots: int = 0  # held by live claims
    pending_slots: int = 0  # held by submissions awaiting review
    approved_slots: int = 0
    refund_owed_slots: int = 0  # escrow to return, not yet refunded
    refunding_slots: int = 0  # in a refund sent to Stripe but not yet recorded as done
    refunded_slots: int = 0
    settled_slots: int = 0  # slots whose share of the fee was kept (paid out) or refunded
    refund_key: str | None = None  # the refund in flight, so a retry repeats it rather than adding one
    refund_amount: int = 0  # of the refund in flight: rewards plus their fee share, fixed when it starts
    refund_keys_spent: int = 0  # of the refund in flight: Stripe idempotency keys a server error used up
    payment_intent_id: str | None = None
    client_secret: str | None = None
    charge_id: str | None = None
    funding_error: str | None = None
    funding_keys_spent: int = 0  # funding idempotency keys a Stripe server error used up (Stripe replays those)
    # Its deadline's timer was filed when it was posted, so an unfunded bounty expires too. Bounties posted by an
    # earlier release get theirs from the `file-unfunded-expiry` upgrade step, or when they are funded.
    expiry_timer_filed: bool = False
    # Who may work on it (an extension, as MTurk's qualifications): a freelancer's mean rating at least this, and
    # at least this many approved tasks (core.rules.check_qualified). None: no requirement.
    min_rating: float | None = None
    min_completed: int | None = None
    # Approved work that was claimed first, and its claim-to-submission time added up (microseconds): what the
    # bounty really pays per hour (earnings.bounty_rate), kept as totals in each approval's own write.
    timed_submissions: int = 0
    timed_micros: int = 0
    version: int = 0


@dataclass(frozen=True)
class SubmissionNote:
    """What a bounty's page shows of a freelancer's submission to it, kept on their participant record."""

    id: str
    status: str
    created_at: datetime


@dataclass
class Participant:
    """One freelancer's standing on one bounty: guards one live claim and one open submission."""

    bounty_id: str
    freelancer_id: str
    live_claim_id: str | None = None
    open_submission_id: str | None = None
    approved_submission_id: str | None = None
    # A copy of the live claim's times, so handing in work need not read the claim (see live_claim()).
    live_claim_created_at: datetime | None = None
    live_claim_expires_at: datetime | None = None
    # Their submissions to the bounty, oldest first, written with each one's every change, so the bounty's page
    # needs no Query of them. None on records of an earlier release: not known, the page asks the index.
    submissions: list[SubmissionNote] | None = None
    version: int = 0

    def live_claim(self) -> Claim | None:
        """The live claim as stored, rebuilt from the copy. A claim is written once when made (version 1) and
        once when it ends, which clears the copy in the same transaction; so while the copy is here the claim is
        live at version 1, and a write conditioned on that version fails if it ended meanwhile."""
        if not (self.live_claim_id and self.live_claim_created_at and self.live_claim_expires_at):
            return None
        return Claim(id=self.live_claim_id, bounty_id=self.bounty_id, freelancer_id=self.freelancer_id,
                     status=LIVE, created_at=self.live_claim_created_at, expires_at=self.live_claim_expires_at,
                     version=1)


@dataclass
class Claim:
    id: str
    bounty_id: str
    freelancer_id: str
    status: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    version: int = 0


@dataclass
class Submission:
    id: str
    bounty_id: str
    freelancer_id: str
    content: str
    links: list[str]
    status: str
    created_at: datetime
    auto_approve_at: datetime
    claim_id: str | None = None
    claimed_at: datetime | None = None  # start of the work, for the effective hourly rate achieved
    decided_at: datetime | None = None
    auto_approved: bool = False
    rating: int | None = None
    feedback: str | None = None
    rejection_reason: str | None = None
    payout_id: str | None = None
    # The bounty's owner, copied from it when the work is handed in, so their review queue can be indexed by it.
    # None on submissions of an earlier release (until the `index-reviews` upgrade step gives them theirs).
    client_id: str | None = None
    version: int = 0


@dataclass
class Payout:
    id: str
    submission_id: str
    bounty_id: str
    freelancer_id: str
    amount: int
    currency: str
    status: str
    created_at: datetime
    updated_at: datetime
    transfer_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    # Attempts Stripe answered with a server error, which it replays to any retry under the same idempotency key:
    # each one moves the transfer on to a new key, after a look for a transfer the failed request may have made.
    keys_spent: int = 0
    version: int = 0


@dataclass
class LedgerEntry:
    bounty_id: str
    id: str  # deterministic per money event, so recording it twice is a no-op
    kind: str  # funded | paid_out | fee | refunded
    amount: int
    currency: str
    created_at: datetime
    reference: str | None = None  # the Stripe object behind it
    version: int = 0


@dataclass
class Message:
    bounty_id: str
    id: str
    author_id: str
    author_role: str
    body: str
    created_at: datetime
    version: int = 0


@dataclass(frozen=True)
class BountyBrief:
    """What a freelancer's list of their work shows of a bounty (none of it changes once posted)."""

    id: str
    title: str
    reward: int
    currency: str


@dataclass(frozen=True)
class WorkEntry:
    """A freelancer's claim, submission or payout as their own list of work holds it: written with the record in
    the same transaction, with the bounty's brief from the write that made the record (a submission without its
    content and links)."""

    record: Claim | Submission | Payout
    bounty: BountyBrief | None


# Timer kinds
EXPIRE_BOUNTY = "expire_bounty"
LAPSE_CLAIM = "lapse_claim"
AUTO_APPROVE = "auto_approve"
END_CLAIMS = "end_claims"  # a cancelled bounty's live claims, which it can no longer take work for
# Safety nets for the message sent after a commit: if that send was lost, the timer sends it again.
RESEND_PAYOUT = "resend_payout"
RECHECK_HELD_PAYOUT = "recheck_held_payout"
RESEND_RELEASED_PAYOUT = "resend_released_payout"
RESEND_REFUND = "resend_refund"
# A close's own, so it never shares a key with a refund owed in the same instant (a late payment, a rejection).
RESEND_CLOSE = "resend_close"


@dataclass(frozen=True)
class Increment:
    """Adds to counters of a record that was not read: additions commute, so no version needs checking (the
    record's version still moves on, so a write based on an older read of it fails and retries)."""

    kind: type
    key: str
    amounts: dict[str, int]
    # A counter that may not pass a ceiling: the write fails (ConcurrentUpdate) rather than take it past.
    ceilings: dict[str, int] = field(default_factory=dict)
    # What a counter the record does not hold yet counts from (records made before it was kept); else it is 0.
    unset_is: dict[str, int] = field(default_factory=dict)


@dataclass
class Timer:
    """Something to do at `due_at`. Keyed (shard, due_key) so a sweep reads only what is due."""

    shard: str
    due_key: str  # "<due_at ISO>#<kind>#<ref_id>": sorts by due time
    kind: str
    ref_id: str
    due_at: datetime
    version: int = 0
