"""Who may do what: every endpoint × every kind of caller, with the status each must get, and proof that a refusal
changes nothing and that no answer, list or error message shows one party's data to another.

Callers: nobody (no key), the bounty's owner, another client, the freelancer who worked on it (claimed, submitted),
another freelancer, the owner's revoked key, and a key that was never issued. The world is built once for the
module; a cell whose caller is allowed to change something gets records of its own, so cells run in any order.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from tests.api.conftest import Api

ANON, OWNER, OTHER_CLIENT, WORKER, OTHER_FREELANCER, REVOKED, WRONG = (
    "anonymous", "owner", "other_client", "worker", "other_freelancer", "revoked_key", "wrong_key")
# Keys name their account and role, and are checked in the request's first read or write: a key that names the
# owner (or the worker) with a made-up secret must get what any unknown key gets, never a 403, 404 or 409 that
# the named account would have got, and must change nothing.
FORGED_OWNER, FORGED_WORKER = "forged_owner_key", "forged_worker_key"
CALLERS = (ANON, OWNER, OTHER_CLIENT, WORKER, OTHER_FREELANCER, REVOKED, WRONG, FORGED_OWNER, FORGED_WORKER)
BAD_KEYS = {ANON: 401, REVOKED: 401, WRONG: 401, FORGED_OWNER: 401, FORGED_WORKER: 401}


def _forge(api_key: str) -> str:
    """The same account and role, another secret."""
    named, _, secret = api_key.rpartition(".")
    assert named.startswith("bk_acct_"), api_key
    return f"{named}.{secret[::-1]}"


class World:
    """Two clients and two freelancers around the owner's bounties."""

    def __init__(self, api: Api):
        self.api = api
        self.owner, self.other_client = api.account("client"), api.account("client")
        self.worker, self.other_freelancer = api.account("freelancer"), api.account("freelancer")
        revoked = api.ok("POST", "/v1/accounts/me/keys", status=201, key=self.owner["api_key"])
        api.ok("DELETE", f"/v1/accounts/me/keys/{revoked['id']}", key=self.owner["api_key"])
        self.spare_key_id = api.ok("POST", "/v1/accounts/me/keys", status=201, key=self.owner["api_key"])["id"]
        self.keys = {ANON: None, OWNER: self.owner["api_key"], OTHER_CLIENT: self.other_client["api_key"],
                     WORKER: self.worker["api_key"], OTHER_FREELANCER: self.other_freelancer["api_key"],
                     REVOKED: revoked["api_key"], WRONG: "bk_" + uuid.uuid4().hex,
                     FORGED_OWNER: _forge(self.owner["api_key"]), FORGED_WORKER: _forge(self.worker["api_key"])}
        # The owner's open bounty, on which the worker submitted; a second one where the worker holds a live claim;
        # one never funded (so not public); and the other client's own open bounty.
        self.bounty = self.open_bounty(title="Owner's secret-sauce task", description="Recipe: 3 eggs")
        self.submission = self.submit(self.bounty)
        self.claimed = self.open_bounty()
        self.claim = self.api.ok("POST", f"/v1/bounties/{self.claimed}/claims", status=201,
                                 key=self.worker["api_key"])["id"]
        self.unfunded = self.api.bounty(self.owner["api_key"], payment_method=None)["id"]
        self.others_bounty = self.api.bounty(self.other_client["api_key"], title="Other client's task")["id"]
        for key in (self.owner["api_key"], self.worker["api_key"]):
            self.api.ok("POST", f"/v1/bounties/{self.bounty}/messages", {"body": "private note"}, status=201, key=key)
        self.private = [self.owner["id"], self.owner["email"], self.worker["id"], self.worker["email"],
                        "secret-sauce", "3 eggs", "private note", self.submission, self.claim]

    # -- records of the owner's, made on demand --

    def open_bounty(self, **fields) -> str:
        bounty = self.api.bounty(self.owner["api_key"], slots=3, **fields)
        assert bounty["status"] == "open", bounty
        return bounty["id"]

    def submit(self, bounty_id: str) -> str:
        return self.api.ok("POST", f"/v1/bounties/{bounty_id}/submissions", {"content": "my work: 3 eggs"},
                           status=201, key=self.worker["api_key"])["id"]

    def ids(self) -> dict:
        return {"bounty": self.bounty, "submission": self.submission, "claim": self.claim,
                "unfunded": self.unfunded, "key": self.spare_key_id}

    def fresh_ids(self, path: str) -> dict:
        """For a cell whose caller may change something: the records its path names, made for it alone."""
        ids = self.ids()
        if "{bounty}" in path or "{submission}" in path:
            ids["bounty"] = self.open_bounty()
            ids["submission"] = self.submit(ids["bounty"])
        if "{claim}" in path:
            claimed = self.open_bounty()
            ids["claim"] = self.api.ok("POST", f"/v1/bounties/{claimed}/claims", status=201,
                                       key=self.worker["api_key"])["id"]
        if "{unfunded}" in path:
            ids["unfunded"] = self.api.bounty(self.owner["api_key"], payment_method=None)["id"]
        if "{key}" in path:
            ids["key"] = self.api.ok("POST", "/v1/accounts/me/keys", status=201, key=self.owner["api_key"])["id"]
        return ids

    def snapshot(self, ids: dict) -> str:
        """Everything the owner and the worker can see of these records: a refused call must change none of it."""
        owner, worker = self.owner["api_key"], self.worker["api_key"]
        seen = [self.api.get(f"/v1/bounties/{ids['bounty']}", key=owner),
                self.api.get(f"/v1/bounties/{ids['bounty']}/ledger", key=owner),
                self.api.get(f"/v1/bounties/{ids['unfunded']}", key=owner),
                self.api.get(f"/v1/submissions/{ids['submission']}", key=owner),
                self.api.get("/v1/claims?limit=100", key=worker),
                self.api.get("/v1/accounts/me/keys", key=owner),
                self.api.get(f"/v1/bounties/{ids['bounty']}/messages?limit=100", key=owner)]
        return json.dumps(seen, sort_keys=True)


@pytest.fixture(scope="module")
def world(chalice_app):
    from chalicelib.bootstrap import deps
    from chalicelib.services.reconcile import reconcile_bounty

    with Client(chalice_app, stage_name="local") as client:
        api = Api(client)
        yield World(api)
    problems = [problem for bounty_id in api.bounties for problem in reconcile_bounty(deps(), bounty_id)]
    assert not problems, problems


def row(method, path, body=None, **expected):
    """An endpoint and the status each caller gets; callers not named get `rest` (default: as BAD_KEYS)."""
    rest = expected.pop("rest", None)
    statuses = {caller: rest for caller in CALLERS} | BAD_KEYS | expected
    missing = [caller for caller, status in statuses.items() if status is None]
    assert not missing, (method, path, missing)
    return method, path, body, statuses


R = dict  # readability of the table below
DEADLINE = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
MATRIX = [
    # Sign-up takes no key: whatever is sent, a new account is made.
    row("POST", "/v1/accounts", {"role": "client", "name": "n", "email": "n@example.com"}, rest=201,
        **{c: 201 for c in BAD_KEYS}),
    row("GET", "/v1/accounts/me", rest=200),
    row("POST", "/v1/accounts/me/keys", {}, rest=201),
    row("POST", "/v1/accounts/me/payout-onboarding", **R(owner=403, other_client=403, worker=200,
                                                         other_freelancer=200)),
    row("GET", "/v1/accounts/me/keys", rest=200),
    row("DELETE", "/v1/accounts/me/keys/{key}", rest=404, owner=200),
    row("POST", "/v1/bounties", {"title": "t", "description": "d", "reward": {"amount": 500}, "deadline": DEADLINE},
        **R(owner=201, other_client=201, worker=403, other_freelancer=403)),
    row("GET", "/v1/bounties", rest=200, anonymous=200),
    row("GET", "/v1/bounties?mine=true", **R(owner=200, other_client=200, worker=403, other_freelancer=403)),
    row("GET", "/v1/bounties/{bounty}", rest=200, anonymous=200),
    row("GET", "/v1/bounties/{unfunded}", rest=404, anonymous=404, owner=200),
    row("POST", "/v1/bounties/{unfunded}/fund", {}, **R(owner=200, other_client=404, worker=403,
                                                         other_freelancer=403)),
    row("POST", "/v1/bounties/{bounty}/cancel", {}, **R(owner=200, other_client=404, worker=403,
                                                         other_freelancer=403)),
    row("GET", "/v1/bounties/{bounty}/ledger", **R(owner=200, other_client=404, worker=403, other_freelancer=403)),
    row("POST", "/v1/bounties/{bounty}/claims", {}, **R(owner=403, other_client=403, worker=409,
                                                         other_freelancer=201)),
    row("GET", "/v1/claims", **R(owner=403, other_client=403, worker=200, other_freelancer=200)),
    row("POST", "/v1/claims/{claim}/release", {}, **R(owner=403, other_client=403, worker=200,
                                                       other_freelancer=404)),
    row("POST", "/v1/bounties/{bounty}/submissions", {"content": "x"},
        **R(owner=403, other_client=403, worker=409, other_freelancer=201)),
    row("GET", "/v1/bounties/{bounty}/submissions", **R(owner=200, other_client=404, worker=403,
                                                         other_freelancer=403)),
    row("GET", "/v1/submissions", **R(owner=200, other_client=200, worker=200, other_freelancer=200)),
    row("GET", "/v1/submissions/{submission}", **R(owner=200, other_client=404, worker=200, other_freelancer=404)),
    row("POST", "/v1/submissions/{submission}/approve", {"rating": 5},
        **R(owner=200, other_client=404, worker=403, other_freelancer=403)),
    row("POST", "/v1/submissions/{submission}/reject", {"reason": "no"},
        **R(owner=200, other_client=404, worker=403, other_freelancer=403)),
    row("POST", "/v1/bounties/{bounty}/messages", {"body": "hi"}, **R(owner=201, other_client=404, worker=201,
                                                                       other_freelancer=404)),
    row("GET", "/v1/bounties/{bounty}/messages", **R(owner=200, other_client=404, worker=200,
                                                      other_freelancer=404)),
    row("GET", "/v1/payouts", **R(owner=403, other_client=403, worker=200, other_freelancer=200)),
    # Not behind a key: anyone gets the same answer, whatever key they send.
    row("POST", "/v1/webhooks/stripe", {"type": "payment_intent.succeeded"}, rest=400, **{c: 400 for c in BAD_KEYS}),
    row("GET", "/v1/openapi.json", rest=200, **{c: 200 for c in BAD_KEYS}),
]
CELLS = [pytest.param(method, path, body, caller, statuses[caller], id=f"{method} {path} as {caller}")
         for method, path, body, statuses in MATRIX for caller in CALLERS]


@pytest.mark.parametrize("method, path, body, caller, expected", CELLS)
def test_authorization_matrix(world, method, path, body, caller, expected):
    writes = method != "GET"
    ids = world.fresh_ids(path) if writes and expected < 400 else world.ids()
    before = world.snapshot(ids) if writes and expected >= 400 else None
    code, answer = world.api.call(method, path.format(**ids), body, key=world.keys[caller])
    assert code == expected, (code, answer)
    if code >= 400:
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
        leaked = [item for item in world.private if item in json.dumps(answer) and item not in path.format(**ids)]
        assert not leaked, (leaked, answer)
        if before is not None:
            assert world.snapshot(ids) == before, "a refused call changed something"


def test_the_matrix_covers_every_route():
    from chalicelib.api.http import ROUTES

    covered = {(method, path.split("?")[0]) for method, path, _, _ in MATRIX}
    templated = {(r.method, r.path.replace("{bounty_id}", "{bounty}").replace("{submission_id}", "{submission}")
                  .replace("{claim_id}", "{claim}").replace("{key_id}", "{key}")) for r in ROUTES}
    covered |= {(m, p.replace("{unfunded}", "{bounty}")) for m, p in covered}
    assert templated <= covered, templated - covered


# ---- nothing leaks through lists, filters or public reads ---------------------------------------------------

def _ids(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


def test_public_reads_never_show_funding_secrets_or_unlisted_bounties(world):
    api = world.api
    for caller in (ANON, OTHER_CLIENT, WORKER, OTHER_FREELANCER):
        seen = api.ok("GET", f"/v1/bounties/{world.bounty}", key=world.keys[caller])
        assert seen["funding"] is None, caller  # the client_secret of the owner's payment is the owner's alone
        listed = api.ok("GET", "/v1/bounties?limit=100", key=world.keys[caller])["items"]
        me = api.ok("GET", "/v1/accounts/me", key=world.keys[caller])["id"] if world.keys[caller] else None
        assert all(b["status"] == "open" for b in listed), caller
        assert all(b["funding"] is None for b in listed if b["client_id"] != me), caller
        assert world.unfunded not in _ids(api.ok("GET", "/v1/bounties?limit=100", key=world.keys[caller]))
        for status in ("awaiting_funding", "cancelled", "completed"):
            assert api.ok("GET", f"/v1/bounties?status={status}", key=world.keys[caller])["items"] == [], caller
    assert api.ok("GET", f"/v1/bounties/{world.bounty}", key=world.keys[OWNER])["funding"]["client_secret"]


def test_mine_lists_only_the_callers_bounties_whatever_the_filters(world):
    api = world.api
    for query in ("", "&status=open", "&status=awaiting_funding", "&tag=images", "&min_reward=1"):
        for caller, account in ((OWNER, world.owner), (OTHER_CLIENT, world.other_client)):
            page = api.ok("GET", f"/v1/bounties?mine=true&limit=100{query}", key=world.keys[caller])
            assert all(b["client_id"] == account["id"] for b in page["items"]), (caller, query)
        theirs = _ids(api.ok("GET", f"/v1/bounties?mine=true&limit=100{query}", key=world.keys[OTHER_CLIENT]))
        assert not theirs & {world.bounty, world.unfunded, world.claimed}, query
        assert world.others_bounty not in _ids(api.ok("GET", f"/v1/bounties?mine=true&limit=100{query}",
                                                      key=world.keys[OWNER])), query
    assert world.unfunded in _ids(api.ok("GET", "/v1/bounties?mine=true&limit=100", key=world.keys[OWNER]))


def test_freelancer_lists_hold_only_their_own_work(world):
    api = world.api
    for caller, account in ((WORKER, world.worker), (OTHER_FREELANCER, world.other_freelancer)):
        for path in ("/v1/claims", "/v1/submissions"):
            items = api.ok("GET", f"{path}?limit=100", key=world.keys[caller])["items"]
            assert all(item["freelancer_id"] == account["id"] for item in items), (caller, path)
        payouts = api.ok("GET", "/v1/payouts?limit=100", key=world.keys[caller])["items"]
        own_submissions = _ids(api.ok("GET", "/v1/submissions?limit=100", key=world.keys[caller]))
        assert all(p["submission_id"] in own_submissions for p in payouts), caller
    assert world.submission not in _ids(api.ok("GET", "/v1/submissions?limit=100",
                                               key=world.keys[OTHER_FREELANCER]))
    assert world.claim in _ids(api.ok("GET", "/v1/claims?limit=100", key=world.keys[WORKER]))


def test_a_clients_review_queue_holds_only_work_on_their_own_bounties(world):
    api = world.api
    newcomer = api.account("freelancer")
    handed_in = api.ok("POST", f"/v1/bounties/{world.others_bounty}/submissions", {"content": "3 eggs"},
                       status=201, key=newcomer["api_key"])["id"]
    assert handed_in in _ids(api.ok("GET", "/v1/submissions?limit=100", key=world.keys[OTHER_CLIENT]))
    for caller in (OWNER, OTHER_CLIENT):
        own = _ids(api.ok("GET", "/v1/bounties?mine=true&limit=100", key=world.keys[caller]))
        queue = api.ok("GET", "/v1/submissions?limit=100", key=world.keys[caller])["items"]
        assert all(s["bounty_id"] in own and s["status"] == "pending_review" for s in queue), caller


def test_a_bounty_thread_is_for_its_owner_and_workers_only(world):
    api = world.api
    thread = api.ok("GET", f"/v1/bounties/{world.bounty}/messages?limit=100", key=world.keys[WORKER])["items"]
    assert {m["author_id"] for m in thread} >= {world.owner["id"], world.worker["id"]}
    for caller in (OTHER_CLIENT, OTHER_FREELANCER):
        code, body = api.get(f"/v1/bounties/{world.bounty}/messages", key=world.keys[caller])
        assert code == 404 and "private note" not in json.dumps(body)
        # Not through another bounty's id either: the other client's own thread has none of these messages.
        own = api.ok("GET", f"/v1/bounties/{world.others_bounty}/messages", key=world.keys[OTHER_CLIENT])["items"]
        assert own == []


def test_not_found_is_the_same_for_missing_and_for_someone_elses(world):
    """A stranger cannot tell an existing record of someone else's from one that never existed."""
    api = world.api
    pairs = [("/v1/submissions/{}", world.submission, "sub_doesnotexist"),
             ("/v1/bounties/{}/ledger", world.bounty, "bty_doesnotexist"),
             ("/v1/bounties/{}/messages", world.bounty, "bty_doesnotexist"),
             ("/v1/bounties/{}", world.unfunded, "bty_doesnotexist")]
    for template, real, missing in pairs:
        code_real, real_body = api.get(template.format(real), key=world.keys[OTHER_CLIENT])
        code_missing, missing_body = api.get(template.format(missing), key=world.keys[OTHER_CLIENT])
        assert code_real == code_missing == 404, template
        assert real_body["error"]["code"] == missing_body["error"]["code"]
        assert (real_body["error"]["message"].replace(real, "X")
                == missing_body["error"]["message"].replace(missing, "X")), template
