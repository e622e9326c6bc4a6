"""PynamoDB models: one table per entity, with the indexes every access pattern needs (no Scan)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .. import config
from ..core.model import SubmissionNote


def _index(index_name: str, hash_name: str, range_name: str) -> type[GlobalSecondaryIndex]:
    """A GSI keyed on (hash_name, range_name), both strings, projecting every attribute."""
    meta = type("Meta", (), {"index_name": index_name, "projection": AllProjection()})
    attrs = {
        "Meta": meta,
        hash_name: UnicodeAttribute(hash_key=True),
        range_name: UnicodeAttribute(range_key=True),
    }
    return type(f"{index_name}_index", (GlobalSecondaryIndex,), attrs)


class SubmissionNotesAttribute(JSONAttribute):
    """A participant's submission notes, as a JSON list of [id, status, created_at]: one small string."""

    def serialize(self, value):
        if value is None:
            return None
        return super().serialize([[n.id, n.status, n.created_at.isoformat()] for n in value])

    def deserialize(self, value):
        return [SubmissionNote(i, status, datetime.fromisoformat(created)) for i, status, created
                in super().deserialize(value)]


class CounterAttribute(NumberAttribute):
    """A count that starts at 0, left out of the item while it is 0 (`without_defaults`): PynamoDB reads a missing
    attribute back as its default, and ADD counts up from nothing as from 0. A third of a bounty's attributes are
    such counters, mostly 0, and every one left out is one less the SDK serializes and parses, DynamoDB stores
    and a read returns. Only for attributes no condition compares with 0 (a missing attribute fails `= 0`)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(default=0, null=True, **kwargs)


class FlagAttribute(BooleanAttribute):
    """A flag that starts off, left out of the item while it is off, as CounterAttribute. Only for attributes no
    condition compares with false (ApiKeyModel.revoked is one that is: it stays a BooleanAttribute)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(default=False, null=True, **kwargs)


_LEFT_OUT_AT_DEFAULT = (CounterAttribute, FlagAttribute)


def without_defaults(item: Model) -> Model:
    """The item with its counters at 0 and its flags off left out, as it is to be written whole."""
    for name, attribute in type(item).get_attributes().items():
        if isinstance(attribute, _LEFT_OUT_AT_DEFAULT) and item.attribute_values.get(name) == attribute.default:
            del item.attribute_values[name]
    return item


class _Table(Model):
    """Every table: on-demand billing, a version for optimistic concurrency, the name set by bind()."""

    class Meta:
        abstract = True
        table_name = "unbound"
        billing_mode = "PAY_PER_REQUEST"

    entity = ""
    version = NumberAttribute(default=0)


class AccountModel(_Table):
    entity = "accounts"
    id = UnicodeAttribute(hash_key=True)
    role = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    stripe_account_id = UnicodeAttribute(null=True)
    payouts_enabled = FlagAttribute()
    rating_sum = CounterAttribute()
    rating_count = CounterAttribute()
    completed = CounterAttribute()
    earned = JSONAttribute(default=dict)
    connect_keys_spent = CounterAttribute()
    live_keys = NumberAttribute(null=True)


class ApiKeyModel(_Table):
    entity = "api_keys"
    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked = BooleanAttribute(default=False)
    sessions_from = NumberAttribute(null=True)
    by_account = _index("by_account", "account_id", "key_id")()


class BountyModel(_Table):
    entity = "bounties"
    id = UnicodeAttribute(hash_key=True)
    client_id = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute()
    reward = NumberAttribute()
    currency = UnicodeAttribute()
    slots = NumberAttribute()
    deadline = UTCDateTimeAttribute()
    review_window_seconds = NumberAttribute()
    claim_seconds = NumberAttribute(null=True)
    estimated_minutes = NumberAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    fee = NumberAttribute()
    amount_total = NumberAttribute()
    free_slots = NumberAttribute()
    claimed_slots = CounterAttribute()
    pending_slots = CounterAttribute()
    approved_slots = CounterAttribute()
    refund_owed_slots = CounterAttribute()
    refunding_slots = CounterAttribute()
    refunded_slots = CounterAttribute()
    settled_slots = CounterAttribute()
    refund_key = UnicodeAttribute(null=True)
    refund_amount = CounterAttribute()
    refund_keys_spent = CounterAttribute()
    funding_keys_spent = CounterAttribute()
    payment_intent_id = UnicodeAttribute(null=True)
    client_secret = UnicodeAttribute(null=True)
    charge_id = UnicodeAttribute(null=True)
    funding_error = UnicodeAttribute(null=True)
    expiry_timer_filed = FlagAttribute()
    min_rating = NumberAttribute(null=True)
    min_completed = NumberAttribute(null=True)
    timed_submissions = CounterAttribute()
    timed_micros = CounterAttribute()
    # Index-only attributes. `open_shard` exists only while the bounty is open (a sparse index),
    # spread over a few shards so one hot partition does not carry every listing.
    sort_key = UnicodeAttribute()
    open_shard = UnicodeAttribute(null=True)
    search_text = UnicodeAttribute(null=True)  # core.search.searchable: what a search of open bounties looks in
    open_newest = _index("open_newest", "open_shard", "sort_key")()
    by_client = _index("by_client", "client_id", "sort_key")()


class ClaimModel(_Table):
    entity = "claims"
    id = UnicodeAttribute(hash_key=True)
    bounty_id = UnicodeAttribute()
    freelancer_id = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    sort_key = UnicodeAttribute()
    by_bounty = _index("by_bounty", "bounty_id", "sort_key")()
    by_freelancer = _index("by_freelancer", "freelancer_id", "sort_key")()


class SubmissionModel(_Table):
    entity = "submissions"
    id = UnicodeAttribute(hash_key=True)
    bounty_id = UnicodeAttribute()
    freelancer_id = UnicodeAttribute()
    content = UnicodeAttribute()
    links = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    auto_approve_at = UTCDateTimeAttribute()
    claim_id = UnicodeAttribute(null=True)
    claimed_at = UTCDateTimeAttribute(null=True)
    decided_at = UTCDateTimeAttribute(null=True)
    auto_approved = FlagAttribute()
    rating = NumberAttribute(null=True)
    feedback = UnicodeAttribute(null=True)
    rejection_reason = UnicodeAttribute(null=True)
    payout_id = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    sort_key = UnicodeAttribute()
    # The bounty owner's id and `review_due_of`, set only while the submission awaits review: a sparse index of
    # each client's review queue, soonest auto-approval first, which reads only what still awaits them.
    review_client = UnicodeAttribute(null=True)
    review_due = UnicodeAttribute(null=True)
    by_bounty = _index("by_bounty", "bounty_id", "sort_key")()
    by_freelancer = _index("by_freelancer", "freelancer_id", "sort_key")()
    awaiting_review = _index("awaiting_review", "review_client", "review_due")()


class ParticipantModel(_Table):
    entity = "participants"
    bounty_id = UnicodeAttribute(hash_key=True)
    freelancer_id = UnicodeAttribute(range_key=True)
    live_claim_id = UnicodeAttribute(null=True)
    open_submission_id = UnicodeAttribute(null=True)
    approved_submission_id = UnicodeAttribute(null=True)
    live_claim_created_at = UTCDateTimeAttribute(null=True)
    live_claim_expires_at = UTCDateTimeAttribute(null=True)
    submissions = SubmissionNotesAttribute(null=True)


class PayoutModel(_Table):
    entity = "payouts"
    id = UnicodeAttribute(hash_key=True)
    submission_id = UnicodeAttribute()
    bounty_id = UnicodeAttribute()
    freelancer_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    transfer_id = UnicodeAttribute(null=True)
    attempts = CounterAttribute()
    last_error = UnicodeAttribute(null=True)
    keys_spent = CounterAttribute()
    sort_key = UnicodeAttribute()
    # Set only while the payout is failed: a sparse index an operator lists and re-drives from.
    failed_flag = UnicodeAttribute(null=True)
    # The freelancer's id, set only until the payout is paid: a sparse index of what each freelancer is still
    # owed, so finding held payouts or summing what is owed reads those alone, never a long paid history.
    unpaid_freelancer = UnicodeAttribute(null=True)
    by_freelancer = _index("by_freelancer", "freelancer_id", "sort_key")()
    failed = _index("failed", "failed_flag", "sort_key")()
    unpaid = _index("unpaid", "unpaid_freelancer", "sort_key")()


class LedgerEntryModel(_Table):
    entity = "ledger"
    bounty_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    reference = UnicodeAttribute(null=True)


class MessageModel(_Table):
    entity = "messages"
    bounty_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    author_id = UnicodeAttribute()
    author_role = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class WorkModel(_Table):
    """A freelancer's claims, submissions and payouts under one partition, newest first, so their web page's list
    of work is one Query. Written with each record in its transaction (adapters.dynamo_work)."""

    entity = "work"
    freelancer_id = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)  # the record's own: "<created_at>#<id>"
    kind = UnicodeAttribute()  # claim | submission | payout
    record = JSONAttribute()
    record_version = NumberAttribute()  # of the record this copies, so a late copy cannot replace a newer one
    bounty_title = UnicodeAttribute(null=True)
    bounty_reward = NumberAttribute(null=True)
    bounty_currency = UnicodeAttribute(null=True)


class IdempotencyModel(_Table):
    entity = "idempotency"
    key = UnicodeAttribute(hash_key=True)
    fingerprint = UnicodeAttribute()
    state = UnicodeAttribute()  # in_progress | done | resumable
    status_code = NumberAttribute(null=True)
    body = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    taken_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()


class TimerModel(_Table):
    entity = "timers"
    shard = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    ref_id = UnicodeAttribute()
    due_at = UTCDateTimeAttribute()


ALL_MODELS: tuple[type[_Table], ...] = (
    AccountModel, ApiKeyModel, BountyModel, ClaimModel, SubmissionModel, ParticipantModel,
    PayoutModel, LedgerEntryModel, MessageModel, IdempotencyModel, TimerModel, WorkModel,
)


def sort_key_of(created_at: datetime, record_id: str) -> str:
    """Newest first when read backwards; the id keeps records made in the same microsecond apart."""
    return f"{created_at.isoformat()}#{record_id}"


def one_query(source, hash_value: str, range_condition=None, *, page_size: int, **options) -> tuple[list, dict | None]:
    """The items of one Query of a model's table or index, at most `page_size` (and at most 1 MB: DynamoDB cuts an
    answer there), and the key it stopped at (None: it read to the end). A request reads a list in one Query, so a
    page DynamoDB cut is short and reads on from there, where PynamoDB's own iteration would query again."""
    model = getattr(source, "_model", source)  # an index's, or the model itself
    pages = source.query(hash_value, range_condition, page_size=page_size, **options).page_iter
    items = [model.from_raw_data(raw) for raw in next(pages).get("Items", [])]
    return items, pages.last_evaluated_key


def last_before_more(items: list, limit: int, stopped_at: dict | None) -> int | None:
    """Of one Query's `items` (limit + 1 asked for, so one more tells that more follow), the position of the page's
    last item when more follow, the next page going on after it: the limit's, or the last one read where DynamoDB
    cut the answer at 1 MB. None at the list's end."""
    if len(items) > limit:
        return limit - 1
    return len(items) - 1 if items and stopped_at else None


def review_due_of(auto_approve_at: datetime, submission_id: str) -> str:
    """Soonest auto-approval first when read forwards; the id keeps submissions due in the same microsecond apart."""
    return f"{auto_approve_at.isoformat()}#{submission_id}"


def _one_reading_of_botocores_data() -> None:
    """PynamoDB gives each model's connection a botocore session of its own, and each session reads and parses
    botocore's data files (endpoints, partitions, DynamoDB's service model) again: ~0.1 s for every model's first
    call, on a cold start and after every bind(). Every session it makes shares one loader instead, whose cache
    holds the parsed files, so they are read once per process; each connection still has a session of its own."""
    import botocore.session
    from pynamodb.connection import base

    if getattr(base.get_session, "shares_one_loader", False):
        return
    loader = botocore.session.get_session().get_component("data_loader")  # the loader botocore itself would make

    def session_sharing_the_loader() -> botocore.session.Session:
        session = botocore.session.get_session()
        session.register_component("data_loader", loader)
        return session

    session_sharing_the_loader.shares_one_loader = True
    base.get_session = session_sharing_the_loader


def bind() -> None:
    """Points every model at this stage's tables. Called once per container, before first use."""
    _one_reading_of_botocores_data()
    prefix = config.table_prefix()
    limits = config.aws_call_limits()
    for model in ALL_MODELS:
        # Each model gets a Meta of its own: subclasses would otherwise share _Table's.
        model.Meta = type("Meta", (_Table.Meta,), {
            "table_name": prefix + model.entity, "connect_timeout_seconds": limits.connect_seconds,
            "read_timeout_seconds": limits.read_seconds, "max_retry_attempts": limits.retries})
        model._connection = None
