"""A form sent twice acts once. Each form that changes something (claim, release, submit, message) carries a key of
its own, new with every page shown (`form_key`), and its post runs under that key as an API request runs under its
Idempotency-Key (api.idempotency.run_once, the lock riding on the request's own calls). A repeat of the same post (a
double tap, a browser sending the form again after its answer was lost on a phone's network) goes where the first
went, with its message, instead of claiming, handing in or posting again, or telling of a conflict with what had in
fact succeeded.

Only a form's success is kept (where it led, and the message shown there): a refusal changed nothing, and the page
that shows it is shown again with a new key, so the form sent again after fixing it runs as a new request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Response

from ..api.idempotency import Keeping, run_once
from ..bootstrap import deps
from ..core import errors

FIELD = "form_key"
MAX_KEY = 64
NOT_THE_REQUEST = ("csrf", FIELD)  # fields that say who sent the form, not what it asks


@dataclass(frozen=True)
class Outcome:
    """Where a form that succeeded leads, and what the page there says."""

    location: str
    flash: str


# How a form answers, from the record its use case writes last: (record type, its outcome). The view's own code
# builds its outcome with the same function, so the answer stored with that write is the one the view gives.
Answers = tuple[type, Callable[[Any], Outcome]]


def new_key() -> str:
    return secrets.token_urlsafe(16)


def answer(outcome: Outcome) -> tuple[int, str]:
    return 303, json.dumps({"location": outcome.location, "flash": outcome.flash}, sort_keys=True)


def run(ctx, attempt: Callable[[], Response], answers: Answers) -> Response:
    """The form's response, from `attempt` or, for a repeat, from what the first of them did."""
    key = ctx.form.get(FIELD, "")
    if ctx.caller is None or not 1 <= len(key) <= MAX_KEY:
        return attempt()  # a page shown before forms carried keys, or an edited form: as before them
    kind, outcome_of = answers

    def answer_from(records: list) -> tuple[int, str] | None:
        for record in reversed(records):
            if isinstance(record, kind):
                return answer(outcome_of(record))
        return None

    def replay(_record, body: str) -> Response:
        kept = json.loads(body)
        return ctx.go(Outcome(location=kept["location"], flash=kept["flash"]))

    keeping = Keeping(answer_of=lambda response: answer(ctx.outcome) if ctx.outcome is not None else None,
                      replay=replay, keeps_refusals=False)
    try:
        return run_once(deps(), f"{ctx.caller.account_id}#web:{key}", _fingerprint(ctx), ctx.caller, attempt,
                        answer_from, keeping)
    except errors.StateConflict as conflict:
        said = IN_WEB_WORDS.get(conflict.code)
        if said is None:
            raise
        raise errors.StateConflict(said, code=conflict.code) from conflict


# The key's refusals, as the form's page words them (the API's name the Idempotency-Key).
IN_WEB_WORDS = {
    "idempotency_key_reused": "This form was sent already, with other content, from a page shown earlier. Reload "
                              "the page to send it again.",
    "idempotency_key_in_use": "This form is being sent already. Reload the page in a moment to see how it went.",
}


def _fingerprint(ctx) -> str:
    """The form as sent: its address and every field but those that say who sent it."""
    request = ctx.request
    asked = {name: value for name, value in ctx.form.items() if name not in NOT_THE_REQUEST}
    digest = hashlib.sha256()
    digest.update(f"web {request.method} {request.context.get('resourcePath', '')} ".encode())
    digest.update(json.dumps(request.uri_params or {}, sort_keys=True).encode())
    digest.update(json.dumps(asked, sort_keys=True).encode())
    return digest.hexdigest()
