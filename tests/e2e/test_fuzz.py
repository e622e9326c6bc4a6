"""Fuzzing the running local stack from its own OpenAPI document (schemathesis over real HTTP).

For every operation in /v1/openapi.json and every kind of caller (anonymous, a client's key, a freelancer's key),
schemathesis generates valid requests (positive) and requests that break the document (negative); half of the
requests to a path with ids use ids of real records, so they get past the 404 into the rules. Every response must:
not be a 5xx, have a status the document lists for the operation, match that status's schema and content type,
and, when it is an error, have the contract's shape {"error": {"code", "message"}}. A final count proves the run
sent at least MIN_REQUESTS requests. See docs/TESTING.md.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALLERS = ("anonymous", "client", "freelancer")
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
MIN_REQUESTS = 1_000
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


def error_shape(ctx, response, case) -> None:
    """A 4xx (or anything else that is not a success) carries exactly {"error": {"code", "message"}}."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"{response.status_code} with a body that is not JSON: {response.text[:200]!r}") from error
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error shape: {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, f"not the error shape: {body!r}"
    assert isinstance(error["code"], str) and SNAKE_CASE.match(error["code"]), f"code not snake_case: {body!r}"
    assert isinstance(error["message"], str) and error["message"].strip(), f"empty message: {body!r}"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, error_shape]


@pytest.fixture(scope="module")
def world(local_stack):
    """Real records for the fuzzer to aim at: a funded bounty with a claim, a submission and claimed work approved
    (so its answers hold an `achieved` rate), and spare API keys (revoking the spare key is fine; revoking the key in
    use would end the run's authentication)."""
    from tests.e2e.conftest import Http

    http = Http(local_stack.url)
    client, freelancer, other, done = (http.account(role) for role in ("client", "freelancer", "freelancer",
                                                                      "freelancer"))
    deadline = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bounty = http.ok("POST", "/v1/bounties", {
        "title": "Fuzz target", "description": "Aimed at by the fuzzer.", "reward": {"amount": 500},
        "slots": 3, "deadline": deadline, "payment_method": "pm_card_visa"}, status=201, key=client["api_key"])
    http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=done["api_key"])
    finished = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                       key=done["api_key"])
    http.ok("POST", f"/v1/submissions/{finished['id']}/approve", key=client["api_key"])
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}")["achieved"]["submissions"] == 1
    claim = http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=other["api_key"])
    submission = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                         key=freelancer["api_key"])
    spare = {role: http.ok("POST", "/v1/accounts/me/keys", status=201, key=account["api_key"])["id"]
             for role, account in (("client", client), ("freelancer", freelancer))}
    return {
        "keys": {"anonymous": None, "client": client["api_key"], "freelancer": freelancer["api_key"]},
        "ids": {"bounty_id": bounty["id"], "claim_id": claim["id"], "submission_id": submission["id"]},
        "spare_key": spare,
    }


@pytest.fixture(scope="module")
def schema(local_stack):
    return schemathesis.openapi.from_url(f"{local_stack.url}/v1/openapi.json", timeout=30)


@pytest.fixture(scope="module")
def sent():
    """Responses per (caller, status class), over the whole module."""
    return Counter()


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def _strategy(operation, mode: GenerationMode, real_ids: dict[str, str], key: str | None):
    """Cases carrying the caller's key; for positive cases, half of them aimed at real records."""
    headers = {"Authorization": f"Bearer {key}"} if key else None
    names = set(re.findall(r"{(\w+)}", operation.path))
    generated = operation.as_strategy(generation_mode=mode, headers=headers)
    if not names or mode is GenerationMode.NEGATIVE:
        return generated
    aimed = operation.as_strategy(generation_mode=mode, headers=headers,
                                  path_parameters={n: real_ids[n] for n in names})
    return st.one_of(generated, aimed)


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_answers_within_its_document(local_stack, schema, world, sent, caller):
    key = world["keys"][caller]
    real_ids = dict(world["ids"], key_id=world["spare_key"].get(caller, "key_none"))
    failures: list[str] = []

    for operation in _operations(schema):
        for mode, examples in EXAMPLES.items():
            def one(case):
                if key is None:  # whatever credential schemathesis made up, an anonymous caller sends none
                    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
                response = case.call(base_url=local_stack.url, timeout=30)
                sent[caller, f"{response.status_code // 100}xx"] += 1
                case.validate_response(response, checks=CHECKS)

            run = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                           phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                           )(given(case=_strategy(operation, mode, real_ids, key))(one))
            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be made invalid
            except (Exception, BaseExceptionGroup) as error:  # every operation runs; all failures are reported
                failures.append(f"{caller} {mode.value} {operation.label}:\n{error}")

    assert not failures, "\n\n".join(failures)


def test_the_fuzzing_sent_enough_requests_and_got_past_the_door(sent):
    total = sum(sent.values())
    print(f"fuzzing: {total} requests", dict(sorted(sent.items())))
    assert total >= MIN_REQUESTS, f"only {total} requests: {dict(sent)}"
    # Keyed callers reach the rules (2xx, and 4xx from the rules); nobody ever saw a 5xx.
    for caller in ("client", "freelancer"):
        assert sent[caller, "2xx"] >= 20 and sent[caller, "4xx"] >= 50, dict(sent)
    assert not any(status == "5xx" for _, status in sent), dict(sent)
