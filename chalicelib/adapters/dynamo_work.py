"""A freelancer's list of their work (the `work` table): a copy of each of their claims, submissions and payouts
under their id, written in the same transaction as the record, so the web's "my work" reads it in one Query
instead of one per index. A submission's copy leaves out its content and links (the list never shows them);
each copy carries the brief of its bounty from the write that made the record (the bounty is in that write)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..core.model import Bounty, BountyBrief, Claim, Payout, Submission, WorkEntry
from . import dynamo_models as m

KINDS: dict[type, str] = {Claim: "claim", Submission: "submission", Payout: "payout"}
_RECORD_OF_KIND = {kind: record_type for record_type, kind in KINDS.items()}
_LEFT_OUT = {"content": "", "links": [], "version": 0}  # not copied; the copy reads back with these


def copies(records: Iterable[Any], *, updates_only: bool = False
           ) -> tuple[list[m.WorkModel], list[tuple[m.WorkModel, list]]]:
    """What brings the copies of these records (those of the kinds listed) up to date, for one transaction with
    them: whole copies to put, for the records whose bounty is among them (every write that makes a record has its
    bounty); updates for the others (or all, with `updates_only`), which keep the bounty's brief already there.
    (Puts and updates cost the same on DynamoDB; on moto an update's expression takes twice a put's time.)"""
    records = list(records)
    bounties = {} if updates_only else {r.id: r for r in records if isinstance(r, Bounty)}
    puts, updates = [], []
    for record in records:
        if type(record) not in KINDS:
            continue
        written_at = record.version + 1  # as the record is written: at the version read plus one, or new at 1
        if record.bounty_id in bounties:
            puts.append(copy_item(record, bounties[record.bounty_id], record_version=written_at))
        else:
            updates.append(_update(record, written_at))
    return puts, updates


def _update(record: Any, record_version: int) -> tuple[m.WorkModel, list]:
    work = m.WorkModel
    actions = [work.kind.set(KINDS[type(record)]), work.record.set(_encode(record)),
               work.record_version.set(record_version)]
    return work(record.freelancer_id, m.sort_key_of(record.created_at, record.id)), actions


def copy_item(record: Any, bounty: Bounty | BountyBrief | None, *, record_version: int) -> m.WorkModel:
    """The whole copy of a record at `record_version`, with its bounty's brief, as one item."""
    brief = {"bounty_title": bounty.title, "bounty_reward": bounty.reward,
             "bounty_currency": bounty.currency} if bounty else {}
    return m.WorkModel(record.freelancer_id, m.sort_key_of(record.created_at, record.id), kind=KINDS[type(record)],
                       record=_encode(record), record_version=record_version, **brief)


def newest(freelancer_id: str, limit: int, *, before: str | None = None) -> tuple[list[WorkEntry], str | None]:
    """Their newest `limit` copies older than the sort key `before` (if given), newest first; and the sort key to
    read on from, None when that was all of them."""
    work = m.WorkModel
    older = work.sort_key < before if before else None
    items, stopped_at = m.one_query(work, freelancer_id, older, scan_index_forward=False, consistent_read=True,
                                    page_size=limit + 1)
    last = m.last_before_more(items, limit, stopped_at)
    return [_entry(item) for item in items[:limit]], items[last].sort_key if last is not None else None


def _entry(item: m.WorkModel) -> WorkEntry:
    brief = None
    if item.bounty_title is not None:
        record_bounty = item.record["bounty_id"]
        brief = BountyBrief(record_bounty, item.bounty_title, int(item.bounty_reward), item.bounty_currency)
    return WorkEntry(_decode(item.kind, item.record), brief)


def _encode(record: Any) -> dict:
    return {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record) if f.name not in _LEFT_OUT}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode(kind: str, data: dict) -> Any:
    record_type = _RECORD_OF_KIND[kind]
    values = {}
    for f in dataclasses.fields(record_type):
        if f.name in _LEFT_OUT:
            values[f.name] = copy.copy(_LEFT_OUT[f.name])
        elif f.name in data:
            value = data[f.name]
            values[f.name] = datetime.fromisoformat(value) if value and "datetime" in str(f.type) else value
    return record_type(**values)
