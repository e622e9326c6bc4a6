"""The HTTP edge: JSON in and out, errors in the contract's shape, auth, paging, and route registration
that also feeds the OpenAPI document."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from ..bootstrap import deps
from ..core import errors
from ..services.accounts import authenticate
from ..services.deps import Caller, check
from . import idempotency
from .schemas import MAX_BODY_BYTES, MAX_CURSOR, MAX_ID, MAX_PAGE

log = logging.getLogger(__name__)


class UnsupportedMediaType(errors.DomainError):
    status = 415
    code = "unsupported_media_type"

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class RouteDoc:
    path: str
    method: str
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: str | None
    query: dict[str, str] = field(default_factory=dict)
    idempotent: bool = False
    also: tuple[int, ...] = ()  # statuses beyond those the route's shape implies (see openapi.error_statuses)


ROUTES: list[RouteDoc] = []


def body_of(payload: Any) -> str:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    return json.dumps(payload, separators=(",", ":"))


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(body=body_of(payload), status_code=status, headers=dict(JSON_HEADERS))


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        elif item["type"] == "missing":
            parts.append(f"'{where}' is required")
        elif item["type"] == "value_error":  # our own checks (api/text.py): their sentence without pydantic's prefix
            parts.append(f"'{where}' {item['ctx']['error']}")
        else:
            parts.append(f"'{where}': {item['msg']}")
    return "Invalid request: " + "; ".join(parts) + "."


def parse_body(request, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if raw and content_type != "application/json":
        raise UnsupportedMediaType(f"Send the body as JSON with 'Content-Type: application/json', not {content_type}.")
    if len(raw) > MAX_BODY_BYTES:
        raise errors.Invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="body_too_large")
    if not raw:
        raw = b"{}"  # no body at all is an empty object; white space alone is no JSON text, so it is refused
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if (whole := _with_whole_numbers(raw, error)) is not None:
            return _parse_whole(model, whole)
        if any(item["type"] == "json_invalid" for item in error.errors()):
            if any("number out of range" in item["msg"] for item in error.errors()):
                # valid JSON (it sets no limit on digits), past any limit of ours: a refused value, not bad syntax
                raise errors.Invalid("A number in the request body is out of range.") from error
            raise errors.DomainError("The request body is not valid JSON.", code="invalid_json") from error
        if any(item["type"] == "model_type" and not item["loc"] for item in error.errors()):
            raise errors.Invalid("The request body must be a JSON object.") from error
        raise errors.Invalid(_validation_message(error)) from error


def _parse_whole(model: type[BaseModel], raw: bytes) -> BaseModel:
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise errors.Invalid(_validation_message(error)) from error


WHOLE_LIMIT = 2**53  # beyond it a JSON number written with a fraction or exponent is no exact whole number


def _with_whole_numbers(raw: bytes, error: ValidationError) -> bytes | None:
    """The body again with its whole numbers written as floats (500.0, 5e2) written as integers, when that is why
    it was refused: JSON has one number type, and the OpenAPI document's "integer" (JSON Schema's) takes 500.0 as
    500. None otherwise; 500.5 and true are refused as before (strict models)."""
    def whole(item: dict) -> bool:
        value = item.get("input")
        return (item["type"] == "int_type" and isinstance(value, float) and value.is_integer()
                and abs(value) < WHOLE_LIMIT)

    if not any(whole(item) for item in error.errors()):
        return None

    def number(token: str):
        exact = Decimal(token)  # float(token) would take 500.00000000000001 for 500
        if exact.adjusted() >= 16:  # past WHOLE_LIMIT (and 1e1000000 would overflow Decimal's own arithmetic)
            return float(token)
        return int(exact) if exact == exact.to_integral_value() and abs(exact) < WHOLE_LIMIT else float(token)

    try:
        return json.dumps(json.loads(raw, parse_float=number)).encode()
    except (ValueError, RecursionError):  # what the first parse took, this one may not: keep its refusal
        return None


REALM = "bounty-api"


def challenge(authorization: str | None) -> str:
    """The `WWW-Authenticate` of a 401, which HTTP requires: the scheme to use, and (RFC 6750) whether a key was
    sent and refused."""
    if authorization is None:
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token"'


def caller_of(request, *, required: bool) -> Caller | None:
    header = request.headers.get("authorization")
    if header is None and not required:
        return None
    return authenticate(deps(), header)


WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses


def whole_number(raw: str, *, name: str, low: int, high: int, code: str) -> int:
    if not WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise errors.Invalid(f"{name} must be a whole number from {low} to {high}.", code=code)
    return int(raw)


PAGE_QUERY = {"limit": "Page size, 1–100 (default 20). A page may hold fewer, even none, while next_cursor is set (a "
                        "filter reads a bounded stretch of the list per request; a page too large to send is cut "
                        "short): follow next_cursor until it is null.",
              "cursor": "next_cursor of the previous page."}


def paging(request) -> tuple[int, str | None]:
    params = request.query_params or {}
    limit = whole_number(params.get("limit", "20"), name="limit", low=1, high=MAX_PAGE, code="invalid_limit")
    cursor = params.get("cursor") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise errors.Invalid("cursor is not one this API handed out; start again without it.", code="invalid_cursor")
    return limit, cursor


def status_filter(request, allowed: tuple[str, ...]) -> str | None:
    """The list's `status` query parameter: one of `allowed`, or None when not given; 422 invalid_status else."""
    status = (request.query_params or {}).get("status")
    if status is not None and status not in allowed:
        raise errors.Invalid(f"status must be one of {', '.join(allowed)}.", code="invalid_status")
    return status


def unknown_id(params: dict) -> errors.NotFound | None:
    """An id longer than any we hand out names nothing. It must not reach DynamoDB: past its key size (2,048 bytes)
    a read is refused (ValidationException), not answered with nothing found. The web's pages check it too."""
    for name, value in params.items():
        if len(value) > MAX_ID:
            return errors.NotFound(f"No {name.removesuffix('_id')} with an id of {len(value)} characters exists.")
    return None


def _answer_from(answers, caller: Caller | None, status: int):
    if answers is None:
        return None
    kind, render_one = answers

    def answer_from(records: list) -> tuple[int, str] | None:
        for record in reversed(records):
            if isinstance(record, kind):
                return status, body_of(render_one(record, caller))
        return None

    return answer_from


def route(bp: Blueprint, path: str, *, method: str, summary: str, body: type[BaseModel] | None = None,
          response: type[BaseModel] | None = None, status: int = 200, auth: str | None = "any",
          query: dict[str, str] | None = None, idempotent: bool = False, also: tuple[int, ...] = (),
          answers: tuple[type, Callable[[Any, Caller | None], BaseModel]] | None = None) -> Callable:
    """Registers a Chalice route whose function gets (request, caller, body, **path_params) and returns
    a pydantic model or a Response. auth: None (anonymous), "optional", "any", "client", "freelancer".
    answers: (record type, renderer) when the route answers with the rendering of the record of that type its use
    case writes last, as its function does with the same renderer: an Idempotency-Key's answer is then stored in
    that write (see idempotency.replay_or_run)."""
    query = dict(query or {})

    def decorate(handler: Callable) -> Callable:
        ROUTES.append(RouteDoc(path, method, summary, body, response, status, auth, query, idempotent, also))

        @functools.wraps(handler)
        def view(**params):
            request = bp.current_request
            caller = None
            try:
                caller = None if auth is None else caller_of(request, required=auth != "optional")
                if caller is not None and auth in ("client", "freelancer"):
                    caller.require(auth)
                if (unknown := unknown_id(params)) is not None:
                    raise unknown

                def run() -> Response:
                    parsed = parse_body(request, body) if body is not None else None
                    result = handler(request, caller, parsed, **params)
                    return result if isinstance(result, Response) else json_response(result, status)

                if idempotent and request.headers.get("idempotency-key") is not None:
                    response = idempotency.replay_or_run(deps(), request, caller, run,
                                                         _answer_from(answers, caller, status))
                else:
                    response = run()
                check(deps(), caller)  # a use case whose calls could not carry the key: one lookup, never none
                return response
            except errors.DomainError as error:
                if caller is not None and not caller.checked and not isinstance(error, errors.Unauthenticated):
                    # An unknown key gets 401 whatever else is wrong with the request, as if checked first.
                    try:
                        check(deps(), caller)
                    except errors.DomainError as key_error:
                        error = key_error
                response = error_response(error.status, error.code, error.message)
                if error.status == 401:
                    response.headers["WWW-Authenticate"] = challenge(request.headers.get("authorization"))
                return response
            except Exception:
                log.exception("unhandled error on %s %s", method, path)
                return error_response(500, "internal_error", "Something went wrong on our side; it was logged. "
                                      "Retrying with the same Idempotency-Key is safe.")

        # Any content type reaches the view, so a wrong one gets our error shape rather than Chalice's.
        bp.route(path, methods=[method], content_types=["*/*"])(view)
        return view

    return decorate


# OPTIONS too: no route takes it (the API sets no CORS), and left unrouted it got Chalice's stand-in preflight
# locally (an empty 200) and API Gateway's 404 deployed, for a path that exists.
OTHER_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SERVED_OUTSIDE_ROUTES = {"/v1/openapi.json": {"GET"}}  # registered with bp.route directly


def method_guards() -> Blueprint:
    """Each route's path answers the methods it lacks with a 405 in the error shape, with `Allow`: otherwise Chalice
    answers in its own shape locally, and API Gateway with a 403 "Missing Authentication Token". Built once every
    route is registered."""
    guards = Blueprint("method_guards")
    by_path: dict[str, set[str]] = {path: set(methods) for path, methods in SERVED_OUTSIDE_ROUTES.items()}
    for doc in ROUTES:
        by_path.setdefault(doc.path, set()).add(doc.method)
    for number, (path, methods) in enumerate(sorted(by_path.items())):
        others = [method for method in OTHER_METHODS if method not in methods]
        allowed = ", ".join(sorted(methods))

        def refuse(_allowed=allowed, **_params) -> Response:
            body = body_of({"error": {"code": "method_not_allowed", "message": f"This path answers {_allowed} only."}})
            return Response(body=body, status_code=405, headers={**JSON_HEADERS, "Allow": _allowed})

        refuse.__name__ = f"method_not_allowed_{number}"
        guards.route(path, methods=others, content_types=["*/*"])(refuse)
    return guards
