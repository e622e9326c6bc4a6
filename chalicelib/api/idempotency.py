"""Idempotency-Key: the first response to a key is kept for 24 h and replayed for the same request;
the same key on a different request is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from chalice import Response

from .. import config
from ..core import errors
from ..core.sealing import seal, unseal
from ..repository import IdempotencyLock, IdempotencyRecord, Ref, holding
from ..services.deps import Caller, Deps

RETENTION = timedelta(hours=24)
MAX_KEY = 255
# How long a key stays with the attempt that took it. Past this, no attempt can still be running (API Gateway
# answers 504 after 29 s, and the API function's own timeout is 29 s), so one that never let go died (a timeout,
# a lost container): a retry takes the key over rather than being told to wait for 24 hours.
ATTEMPT_LEASE = timedelta(seconds=90)
REUSED = "This Idempotency-Key was already used for a different request; use a new key for a new request."


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.context.get('resourcePath', '')} ".encode())
    digest.update(json.dumps(request.uri_params or {}, sort_keys=True).encode())
    digest.update(_canonical_body(request.raw_body or b""))
    return digest.hexdigest()


def scope(caller: Caller | None, request) -> str:
    """Whose keys these are: an account's own; for anonymous calls (signing up), the caller's address too, so
    that nobody elsewhere who learns a sign-up's key and body can replay its response, API key and all."""
    if caller is not None:
        return caller.account_id
    source = ((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown"
    return f"anonymous@{source}"


def _sealing_secret() -> bytes:
    return hashlib.sha256(b"idempotent-responses\x00" + config.api_key_pepper().encode()).digest()


def _canonical_body(raw: bytes) -> bytes:
    """Key order, white space and how a number is written (500, 500.0, 5e2: one number, as the API reads it) do not
    make a different request; a number the API reads as another (500.00000000000001) does."""
    try:
        return _canonical(json.loads(raw or b"{}", parse_float=Decimal)).encode()
    except (ValueError, RecursionError):  # no JSON, or nested too deep for Python: the bytes are the request
        return raw


# A whole number is written as an integer up to this many digits; past it, as Decimal writes it (no field takes one).
WHOLE_DIGITS = 1000


def _canonical(value) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(name)}:{_canonical(value[name])}" for name in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, Decimal):  # read exactly: 500.00000000000001 is not 500
        if value.is_finite() and value == value.to_integral_value() and value.adjusted() < WHOLE_DIGITS:
            return str(int(value))
        return _exact(value)
    return json.dumps(value)  # strings, integers, true, false, null


def _exact(value: Decimal) -> str:
    """A number as its digits and exponent, trailing zeros moved into the exponent: exact, where Decimal's own
    normalize() rounds to 28 digits (two numbers apart only past them were one body) and raises on an exponent
    past its context's (1e9999999, a 500 before the request was even read)."""
    sign, digits, exponent = value.as_tuple()  # never 0 here (a whole number), nor NaN (json.loads gives a float)
    text = "".join(map(str, digits)).rstrip("0")
    return f"{'-' if sign else ''}{text}E{exponent + len(digits) - len(text)}"


@dataclass(frozen=True)
class Keeping:
    """How one kind of request keeps its answer under its key and gives it again: the API's routes keep every
    answer, refusals included, as JSON (API.md); the web form keeps only where a form led (chalicelib.web.once)."""

    answer_of: Callable[[Response], tuple[int, str] | None]  # what to keep of a response; None: keep nothing
    replay: Callable[[IdempotencyRecord, str], Response]  # the kept answer (the record, its unsealed body) again
    keeps_refusals: bool = True  # a refusal of the request itself (404, 409, 422, ...) is an answer to keep


def replay_or_run(deps: Deps, request, caller: Caller | None, run: Callable[[], Response],
                  answer_from: Callable[[list], tuple[int, str] | None] | None = None) -> Response:
    """Runs an API request under its Idempotency-Key (see run_once)."""
    key = request.headers["idempotency-key"].strip()
    if not 1 <= len(key) <= MAX_KEY:
        raise errors.Invalid(f"Idempotency-Key must be 1 to {MAX_KEY} characters.", code="invalid_idempotency_key")
    return run_once(deps, f"{scope(caller, request)}#{key}", _fingerprint(request), caller, run, answer_from, API)


def run_once(deps: Deps, record_key: str, fingerprint: str, caller: Caller | None, run: Callable[[], Response],
             answer_from: Callable[[list], tuple[int, str] | None] | None, keeping: Keeping) -> Response:
    """Runs the request holding its key's lock, which rides on the request's own calls (see
    repository.IdempotencyLock): a repeat is answered after one read, the key is taken by the request's first write,
    and the answer is stored with its last write when `answer_from` can tell it from that write's records (else
    after it, one call more)."""
    now = deps.clock.now()
    pending = IdempotencyRecord(key=record_key, fingerprint=fingerprint, state="in_progress", created_at=now,
                                expires_at=now + RETENTION, taken_at=now)

    def record_for(answer: tuple[int, str]) -> IdempotencyRecord:
        # Sealed: an answer can hold a secret (a new account's API key) that must not sit in the table.
        sealed = seal(_sealing_secret(), record_key, answer[1])
        return replace(pending, state="done", status_code=answer[0], body=sealed)

    def replay(earlier: IdempotencyRecord) -> Response:
        return keeping.replay(earlier, unseal(_sealing_secret(), earlier.key, earlier.body))

    lock = IdempotencyLock(pending, answer_from=answer_from, record_for=record_for)
    with holding(lock):
        try:
            response = _attempt(deps, lock, run, keeping)
        except errors.IdempotencyKeyTaken as taken:
            # A stored answer goes only to the key's owner: when a write found the key taken, the caller's key is
            # read with the record.
            earlier = _earlier(deps, record_key, fingerprint, now, taken.record or _holder(deps, caller, record_key))
            if earlier.state == "done":
                return replay(earlier)
            _take_over(deps, lock, earlier, now)
            response = _attempt(deps, lock, run, keeping)
    answer = keeping.answer_of(response) if response.status_code < 500 else None
    if answer is None:
        _after_failure(deps, lock)  # a failure on our side (or an answer not kept) must not be replayed forever
        return response
    if lock.answered == answer:
        return response  # stored with the use case's last write
    if lock.taken:
        deps.repo.commit(changed=[replace(record_for(answer), version=lock.version)])
        return response
    # Nothing was written (a read, or an answer decided without a change): the key is taken only now.
    try:
        deps.repo.commit(created=[record_for(answer)], guard=caller.guard() if caller is not None else None)
    except errors.ConcurrentUpdate:
        # Another request holds the key (this one was refused before it read anything, a bad body say, or a
        # duplicate took the key meanwhile). This one changed nothing: its answer stands, unless the key is a
        # different request's (409, as for any reuse) or the same request's, answered already (that answer again).
        earlier = _holder(deps, caller, record_key)
        if earlier is not None and earlier.expires_at > now:
            if earlier.fingerprint != fingerprint:
                raise errors.StateConflict(REUSED, code="idempotency_key_reused") from None
            if earlier.state == "done":
                return replay(earlier)
        return response
    if caller is not None:
        caller.guard_held()
    return response


# Refusals that are no answer to the request itself, so never kept for its key: the key's owner is unknown (401),
# the body was never read (415: the content type is not part of the request's fingerprint, so a retry that fixes
# it is the same request), or the refusal is about the moment, not the request (a lost race, a limit, our side
# failing): a retry may pass.
NOT_KEPT_STATUSES = (401, 415, 429)
NOT_KEPT_CODES = ("concurrent_update",)


def _kept(error: errors.DomainError) -> bool:
    return error.status not in NOT_KEPT_STATUSES and error.status < 500 and error.code not in NOT_KEPT_CODES


def _attempt(deps: Deps, lock: IdempotencyLock, run: Callable[[], Response], keeping: Keeping) -> Response:
    """The request's response; a refusal of the request itself (404, 409, 422, ...) is a response like any other,
    kept for its key and given again to a repeat (the same status and body), as API.md promises."""
    try:
        return run()
    except errors.IdempotencyKeyTaken:
        raise
    except errors.DomainError as error:
        if not (keeping.keeps_refusals and _kept(error)):
            _after_failure(deps, lock)
            raise
        from .http import error_response  # http imports this module

        return error_response(error.status, error.code, error.message)
    except BaseException:
        _after_failure(deps, lock)
        raise


def _after_failure(deps: Deps, lock: IdempotencyLock) -> None:
    """A key taken without an answer is let go, so a retry runs again; or, when the use case made something a retry
    must pick up rather than make again (`lock.resume`), kept as resumable. One whose answer was stored with the
    change keeps it (the change happened), and a retry gets that answer."""
    if not lock.taken or lock.answered is not None:
        return
    if lock.resume is None:
        _forget(deps, lock.record.key)
        return
    resumable = replace(lock.record, state="resumable", body=lock.resume, version=lock.version)
    try:
        deps.repo.commit(changed=[resumable])
    except errors.ConcurrentUpdate:
        pass  # a concurrent retry picked it up meanwhile


def _take_over(deps: Deps, lock: IdempotencyLock, earlier: IdempotencyRecord, now) -> None:
    """Picks up a key whose attempt ended without an answer (resumable, or in progress past its lease), in a
    versioned write, so two retries cannot both resume, and an attempt somehow still running cannot store its
    change or answer after (its own writes carry the version it took). What it made (the body) stays with the
    key, should this attempt die too."""
    lock.taken, lock.resume = True, earlier.body
    try:
        deps.repo.commit(changed=[replace(earlier, state="in_progress", taken_at=now)])
    except errors.ConcurrentUpdate as error:
        raise errors.StateConflict("A request with this Idempotency-Key is still being processed; retry in a moment.",
                                   code="idempotency_key_in_use") from error
    lock.version = earlier.version + 1


def _earlier(deps: Deps, record_key: str, fingerprint: str, now,
             earlier: IdempotencyRecord | None) -> IdempotencyRecord:
    """The record that holds the key (as read: None if gone meanwhile), when it is this request's to reuse (409
    otherwise)."""
    if earlier is None or earlier.expires_at <= now:
        if earlier is not None:
            _forget(deps, record_key)
        raise errors.StateConflict("A request with this Idempotency-Key was just finishing; send it again.",
                                   code="idempotency_key_in_use")
    if earlier.fingerprint != fingerprint:
        raise errors.StateConflict(REUSED, code="idempotency_key_reused")
    # In progress past its lease, its attempt died. A record of the release before the lease (no `taken_at`) does not
    # name what its attempt made (a post's bounty), so a retry would make another: it waits out its 24 hours.
    if earlier.state == "in_progress" and (earlier.taken_at is None or now < earlier.taken_at + ATTEMPT_LEASE):
        raise errors.StateConflict("A request with this Idempotency-Key is still being processed; "
                                   "retry in a moment.", code="idempotency_key_in_use")
    return earlier  # done, resumable, or in progress past its lease


def _holder(deps: Deps, caller: Caller | None, record_key: str) -> IdempotencyRecord | None:
    """The key's record, once a write found it taken, and the caller's API key checked in the same read (a request
    that wrote first read nothing yet): one call, not one each. Unauthenticated unless the key holds."""
    wanted = [Ref(IdempotencyRecord, record_key)]
    checking = caller is not None and not caller.checked
    if checking:
        wanted.append(caller.key_ref())
    found = deps.repo.get_many(wanted)
    if checking:
        caller.confirm(found[1])
    return found[0]


def _api_answer(response: Response) -> tuple[int, str]:
    return response.status_code, response.body if isinstance(response.body, str) else json.dumps(response.body)


def _api_replay(earlier: IdempotencyRecord, body: str) -> Response:
    return Response(body=body, status_code=earlier.status_code,
                    headers={"Content-Type": "application/json", "Idempotent-Replayed": "true"})


API = Keeping(answer_of=_api_answer, replay=_api_replay)


def _forget(deps: Deps, record_key: str) -> None:
    record = deps.repo.get_idempotency(record_key)
    if record is not None:
        try:
            deps.repo.delete(record)
        except errors.ConcurrentUpdate:
            pass
