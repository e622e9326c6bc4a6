"""Request and response shapes. The same pydantic models validate requests and generate /v1/openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)
from pydantic_core import PydanticKnownError

from ..core import model, rules
from .text import readable, readable_line, readable_or_empty

# Limits, documented in docs/LIMITS.md; change both together.
MAX_BODY_BYTES = 64 * 1024
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_CONTENT = 20_000
MAX_LINKS = 10
MAX_LINK = 2_048
MAX_TAGS = 10
MAX_MESSAGE = 4_000
MAX_REASON = 2_000
MAX_PAGE = 100
MAX_ID = 128  # path ids; ours are ~30 characters, DynamoDB keys allow 2,048 bytes
MAX_CURSOR = 512
MAX_TAG = 32
TAG_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,31}$"
BOUNTY_STATUSES = (model.AWAITING_FUNDING, model.OPEN, model.COMPLETED, model.EXPIRED, model.CANCELLED,
                   model.FUNDING_FAILED)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_z, return_type=str)]


def _at_most(max_length: int) -> BeforeValidator:
    """The length as sent, before trimming: the OpenAPI document's maxLength is of the string sent, so a value over
    it with white space at an end is refused too, not trimmed into the limit (a contract check caught that)."""
    def check(value):
        if isinstance(value, str) and len(value) > max_length:
            raise PydanticKnownError("string_too_long", {"max_length": max_length})
        return value

    return BeforeValidator(check)


def text(max_length: int, *, one_line: bool = False):
    """Typed text: 1 to `max_length` characters as sent, trimmed, something visible, no control characters
    (api/text.py). The length checks come first, so their errors stay the string ones ("at most N characters")."""
    rule = ("One line: at least one visible character; no control characters but tabs, no line breaks, no controls "
            "of direction (U+202A-U+202E, U+2066-U+2069) (else 422)."
            if one_line else "At least one visible character; no control characters but tabs and line breaks "
            "(else 422).")
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
                     AfterValidator(readable_line if one_line else readable), _at_most(max_length),
                     Field(description=rule)]


# Tags, links and emails are taken as sent, white space included, so that the document's pattern holds of the
# value sent (a trimmed " images" would match a pattern " images" does not).
Tag = Annotated[str, StringConstraints(to_lower=True, pattern=TAG_PATTERN)]
# A link is a line the client reads before clicking it: no control characters (a terminal's escape) nor controls
# of direction ("https://example.com/\u202egnp.exe" shows as ".../exe.png"), as for a title.
Link = Annotated[str, StringConstraints(max_length=MAX_LINK, pattern=r"^https?://\S+$"), AfterValidator(readable_line),
                 Field(description="An http(s) URL; no control characters nor controls of direction (else 422).")]
Seconds = Annotated[int, Field(ge=60, le=30 * 24 * 3600)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Money(BaseModel):
    # Answers send every field, so the document lists each as required (a default makes one optional otherwise);
    # as a request (Reward) its currency may still be left out.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_serialization_defaults_required=True)
    amount: Annotated[int, Field(gt=0, description="Minor units (cents for usd).")]
    currency: Annotated[str, StringConstraints(to_lower=True, pattern=r"^[a-zA-Z]{3}$")] = "usd"


# ---- requests ----------------------------------------------------------------------------------------

class Reward(Money):
    """A bounty's reward: the limits are Stripe's smallest charge and our largest reward (core.rules)."""

    amount: Annotated[int, Field(ge=rules.MIN_REWARD, le=rules.MAX_REWARD, description="Minor units (cents for usd).")]


class CreateAccount(Request):
    role: Literal["client", "freelancer"]
    name: text(100, one_line=True)
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Requirements(Request):
    """Who may claim the bounty or hand work in (an extension, as MTurk's qualifications)."""
    min_rating: Annotated[float, Field(ge=rules.MIN_RATING, le=rules.MAX_RATING,
                                       description="A mean rating (1-5) of at least this.")] | None = None
    min_completed: Annotated[int, Field(ge=1, le=rules.MAX_COMPLETED_REQUIRED,
                                        description="At least this many approved tasks.")] | None = None


class CreateBounty(Request):
    title: text(MAX_TITLE, one_line=True)
    description: text(MAX_DESCRIPTION)
    reward: Reward
    slots: Annotated[int, Field(ge=1, le=rules.MAX_SLOTS)] = 1
    deadline: Annotated[AwareDatetime, Field(description="With a time zone; 60 seconds to 365 days ahead.")]
    review_window_seconds: Seconds = 259_200
    claim_seconds: Seconds | None = None
    estimated_minutes: Annotated[int, Field(ge=1, le=10_080)] | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = []
    payment_method: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    requirements: Requirements | None = None


class FundBounty(Request):
    payment_method: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class SubmitWork(Request):
    content: text(MAX_CONTENT)
    links: Annotated[list[Link], Field(max_length=MAX_LINKS)] = []


class Approve(Request):
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    feedback: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_REASON),
                        AfterValidator(readable_or_empty), _at_most(MAX_REASON)] | None = None


class Reject(Request):
    reason: text(MAX_REASON)


class PostMessage(Request):
    body: text(MAX_MESSAGE)


class Empty(Request):
    """Endpoints that take no body accept none or `{}`."""


# ---- responses ---------------------------------------------------------------------------------------

class Answer(BaseModel):
    """A response model. Every answer carries each of its fields (null where there is nothing), so the document
    lists every one as required, those with a default too."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Rating(Answer):
    mean: float | None
    count: int


class AccountOut(Answer):
    id: str
    role: str
    name: str
    email: str
    created_at: Timestamp
    api_key: str | None = Field(None, description="Shown only in the response that created the account.")
    payouts_enabled: bool | None = None
    rating: Rating | None = None
    completed: int | None = None
    earned: list[Money] | None = None


class Funding(Answer):
    payment_intent_id: str | None
    client_secret: str | None
    amount_total: int
    fee: int
    currency: str
    error: str | None = None


class Achieved(Answer):
    submissions: int = Field(description="Approved submissions it is measured from: work claimed before it was handed "
                                         "in (work handed in without a claim has no measured time).")
    mean_seconds: int = Field(description="Their mean time from claim to submission, to the second.")
    hourly_rate: Money = Field(description="All their rewards over all their time, per hour (under a minute in all "
                                           "counts as a minute).")


class RequirementsOut(Answer):
    min_rating: float | None
    min_completed: int | None


class BountyOut(Answer):
    id: str
    client_id: str
    title: str
    description: str
    reward: Money
    slots: int
    slots_left: int
    deadline: Timestamp
    review_window_seconds: int
    claim_seconds: int | None
    estimated_minutes: int | None
    effective_hourly_rate: Money | None
    achieved: Achieved | None = Field(description="What approved work on this bounty really paid per hour, timed "
                                                  "from each freelancer's claim to their submission; null until such "
                                                  "work is approved (an extension of API.md).")
    requirements: RequirementsOut | None = Field(description="Who may claim it or hand work in: a freelancer's "
                                                              "mean rating and approved tasks (an extension of "
                                                              "API.md); null: anyone.")
    tags: list[str]
    status: str
    created_at: Timestamp
    updated_at: Timestamp
    funding: Funding | None = Field(None, description="Only for the bounty's owner.")


class ClaimOut(Answer):
    id: str
    bounty_id: str
    freelancer_id: str
    status: str
    created_at: Timestamp
    expires_at: Timestamp


class SubmissionOut(Answer):
    id: str
    bounty_id: str
    freelancer_id: str
    content: str
    links: list[str]
    status: str
    created_at: Timestamp
    auto_approve_at: Timestamp
    auto_approved: bool
    claim_id: str | None
    decided_at: Timestamp | None
    rating: int | None
    feedback: str | None
    rejection_reason: str | None
    payout_id: str | None


class PayoutOut(Answer):
    id: str
    submission_id: str
    bounty_id: str
    amount: Money
    status: str
    transfer_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class MessageOut(Answer):
    id: str
    bounty_id: str
    author_id: str
    author_role: str
    body: str
    created_at: Timestamp


class LedgerEntryOut(Answer):
    id: str
    kind: str
    amount: Money
    reference: str | None
    created_at: Timestamp


class LedgerTotals(Answer):
    funded: int
    paid_out: int
    fees: int
    refunded: int
    held: int


class LedgerOut(Answer):
    bounty_id: str
    currency: str
    entries: list[LedgerEntryOut]
    totals: LedgerTotals


class ApiKeyOut(Answer):
    id: str
    created_at: Timestamp
    revoked: bool
    api_key: str | None = Field(None, description="Shown only in the response that created the key.")


class ApiKeyList(Answer):
    items: list[ApiKeyOut]
    next_cursor: str | None = None


class OnboardingOut(Answer):
    url: str


class WebhookAck(Answer):
    received: bool
    outcome: str


class ErrorBody(Answer):
    code: str
    message: str


class ErrorOut(Answer):
    error: ErrorBody


def page_of(item_model: type[BaseModel]) -> type[BaseModel]:
    return type(f"{item_model.__name__.removesuffix('Out')}List", (Answer,), {
        "__annotations__": {"items": list[item_model], "next_cursor": str | None},
    })


BountyList = page_of(BountyOut)
ClaimList = page_of(ClaimOut)
SubmissionList = page_of(SubmissionOut)
PayoutList = page_of(PayoutOut)
MessageList = page_of(MessageOut)
