"""GET /v1/openapi.json: generated from the registered routes and their pydantic models."""

from __future__ import annotations

import functools
import re

from chalice import Blueprint
from pydantic.json_schema import models_json_schema

from .. import config
from ..core import rules, search
from ..core.model import PAYOUT_STATUSES, SUBMISSION_STATUSES, UNPAID
from ..ports import WEBHOOK_EVENT_TYPES
from . import idempotency
from . import schemas as s
from .http import ROUTES, json_response

bp = Blueprint(__name__)
REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    400: "Malformed request (e.g. invalid JSON, or a webhook whose signature does not verify).",
    401: "Missing, unknown or revoked API key.",
    403: "The key's account lacks the right for this (e.g. a freelancer posting a bounty).",
    404: "No such resource, or not yours to see.",
    409: "The resource's state forbids this now, or the Idempotency-Key was used for another request.",
    415: "The body is not sent as application/json.",
    422: "The request failed validation; the limits are in docs/LIMITS.md.",
    429: "Too many requests.",
    500: "A failure on our side (logged); retrying with the same Idempotency-Key is safe.",
    503: "Stripe or the database could not answer now (payments_unavailable, storage_busy); nothing was done twice: "
         "retry later, with the same Idempotency-Key where there is one.",
}
QUERY_SCHEMAS = {
    "limit": {"type": "integer", "minimum": 1, "maximum": s.MAX_PAGE, "default": 20},
    "cursor": {"type": "string", "maxLength": s.MAX_CURSOR},
    # Empty is no filter (what a form's blank field sends).
    "tag": {"type": "string", "maxLength": s.MAX_TAG, "pattern": f"^$|{s.TAG_PATTERN}"},
    "min_reward": {"type": "integer", "minimum": 0, "maximum": rules.MAX_REWARD},
    "status": {"type": "string", "enum": list(s.BOUNTY_STATUSES)},
    "mine": {"type": "boolean", "default": False},
    "q": {"type": "string", "maxLength": search.MAX_QUERY},
}
# A query parameter whose values depend on the path it filters.
PATH_QUERY_SCHEMAS = {
    ("/v1/payouts", "status"): {"type": "string", "enum": [*PAYOUT_STATUSES, UNPAID]},
    ("/v1/bounties/{bounty_id}/submissions", "status"): {"type": "string", "enum": list(SUBMISSION_STATUSES)},
}


def error_statuses(doc) -> list[int]:
    """The errors a route can answer with, from its shape: who may call it, what it reads, whether it writes.
    Every route reads the database, which may be busy (503 storage_busy), as Stripe may be unreachable."""
    statuses = {429, 500, 503, *doc.also}
    if doc.auth is not None:
        statuses.add(401)
    if doc.auth in ("client", "freelancer", "optional"):
        statuses.add(403)
    if "{" in doc.path:
        statuses.add(404)
    if doc.method != "GET":
        statuses.add(409)
    if doc.body is not None:
        statuses |= {400, 415, 422}
    if doc.query or doc.idempotent:
        statuses.add(422)
    return sorted(statuses)


@functools.cache
def document() -> dict:
    wanted = {(s.ErrorOut, "serialization")}
    for doc in ROUTES:
        wanted |= {(doc.body, "validation")} if doc.body else set()
        wanted |= {(doc.response, "serialization")} if doc.response else set()
    keyed = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, defs = models_json_schema(keyed, ref_template=REF)
    reward = defs.get("$defs", {}).get("Reward")
    if reward is not None:  # the currencies this deployment takes (SUPPORTED_CURRENCIES), in any case
        reward["properties"]["currency"]["pattern"] = _any_case(sorted(config.supported_currencies()))
    paths: dict = {}
    for doc in ROUTES:
        operation = {
            "summary": doc.summary,
            "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{doc.method}_{doc.path}").strip("_"),
            "parameters": _parameters(doc),
            "responses": {str(doc.status): _response(refs[(doc.response, "serialization")] if doc.response else None)},
        }
        for status in error_statuses(doc):
            operation["responses"][str(status)] = {
                "description": ERROR_STATUSES[status],
                "content": {"application/json": {"schema": refs[(s.ErrorOut, "serialization")]}},
            }
        if "401" in operation["responses"]:
            operation["responses"]["401"]["headers"] = {"WWW-Authenticate": {
                "description": 'The scheme to authenticate with: `Bearer realm="bounty-api"`, and '
                               '`error="invalid_token"` after it when a key was sent and refused.',
                "schema": {"type": "string"}}}
        if doc.body is not None:
            operation["requestBody"] = {
                "description": f"JSON, at most {s.MAX_BODY_BYTES} bytes; unknown fields are refused.",
                # Required only when the body has a required field: no body at all is read as {}.
                "required": any(field.is_required() for field in doc.body.model_fields.values()),
                "content": {"application/json": {"schema": refs[(doc.body, "validation")]}},
            }
        if doc.auth not in (None, "optional"):
            operation["security"] = [{"bearer": []}]
        elif doc.auth == "optional":
            operation["security"] = [{}, {"bearer": []}]
        paths.setdefault(doc.path, {})[doc.method.lower()] = operation
    paths["/v1/openapi.json"] = {"get": {"summary": "This document.", "operationId": "get_openapi",
                                         "responses": {"200": {"description": "OpenAPI 3 document.", "content": {
                                             "application/json": {"schema": {"type": "object"}}}}}}}
    _describe_webhook(paths.get("/v1/webhooks/stripe", {}).get("post"))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bounty API", "version": "1.0.0",
                 "description": "Post, fund, claim, submit, review and pay micro-task bounties."},
        "components": {"schemas": defs.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def _describe_webhook(operation: dict | None) -> None:
    """What the generic route shape cannot say of Stripe's webhook: its body is Stripe's event, verified by the
    signature header against the raw bytes (so no schema refuses it before that check)."""
    if operation is None:
        return
    operation["parameters"].append({
        "name": "Stripe-Signature", "in": "header", "required": True,
        "description": "Stripe's signature of the raw body (`t=<time>,v1=<HMAC-SHA256>`); a missing, forged or stale "
                       "one is 400 invalid_signature.",
        "schema": {"type": "string", "maxLength": 4096}})  # longer is no signature of Stripe's: 400 too
    events = ", ".join(WEBHOOK_EVENT_TYPES)
    operation["requestBody"] = {
        "required": True,
        "description": f"A Stripe event, exactly as Stripe sends it. Taken: {events}; any other type is 400 "
                       "unknown_event, a body that is no event 400 invalid_event.",
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["id", "type", "data"],
            "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                           "data": {"type": "object", "properties": {"object": {"type": "object"}}}}}}}}


def _any_case(words: list[str]) -> str:
    """A pattern matching exactly these words, in upper or lower case letter by letter (JSON Schema patterns have
    no case-insensitive flag)."""
    spelled = ["".join(f"[{c.lower()}{c.upper()}]" for c in word) for word in words]
    return "^(" + "|".join(spelled) + ")$"


def _parameters(doc) -> list[dict]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": s.MAX_ID}}
              for name in re.findall(r"{(\w+)}", doc.path)]
    params += [{"name": name, "in": "query", "required": False, "description": text,
                "schema": PATH_QUERY_SCHEMAS.get((doc.path, name)) or QUERY_SCHEMAS.get(name, {"type": "string"})}
               for name, text in doc.query.items()]
    if doc.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "Repeat the request safely: the first response is replayed for 24 h.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY}})
    return params


def _response(schema: dict | None) -> dict:
    out = {"description": "Success."}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


@bp.route("/v1/openapi.json", methods=["GET"])
def openapi_json():
    return json_response(document())
