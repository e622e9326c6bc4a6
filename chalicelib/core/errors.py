"""Domain errors: each carries a snake_case code and a sentence a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(DomainError):
    status = 422
    code = "validation_error"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class StateConflict(DomainError):
    status = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"


class ConcurrentUpdate(Exception):
    """A conditional write lost a race; the use case re-reads and tries again."""


class CeilingReached(Exception):
    """A counter the write adds to would pass its ceiling (core.model.Increment.ceilings): nothing was written."""


class IdempotencyKeyTaken(Exception):
    """The request's Idempotency-Key already has a record: another request with it ran or is running. `record` is
    that record when it was read on the way (None when a write found it taken)."""

    def __init__(self, record=None):
        super().__init__("idempotency key taken")
        self.record = record
