"""A participant record lists its freelancer's submissions to the bounty (for the bounty's web page), and the
`note-submissions` upgrade step gives one to the records an earlier release stored without it."""

from __future__ import annotations

import pytest

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import note_submissions as _note_submissions
from chalicelib.core import errors
from devtools import local_iam

# Upgrade steps are the operator's (`python -m ops`), run with the operator's credentials, not a function's.
note_submissions = local_iam.as_operator(_note_submissions)


@pytest.fixture
def repo(chalice_app):
    from chalicelib.bootstrap import deps

    return deps().repo


def _worked_on(api, client_acct, freelancer, open_bounty) -> tuple[dict, dict]:
    """A rejected submission, then one pending review."""
    path = f"/v1/bounties/{open_bounty['id']}/submissions"
    first = api.ok("POST", path, {"content": "One."}, key=freelancer["api_key"], status=201)
    api.ok("POST", f"/v1/submissions/{first['id']}/reject", {"reason": "No."}, key=client_acct["api_key"])
    return first, api.ok("POST", path, {"content": "Two."}, key=freelancer["api_key"], status=201)


def _notes(repo, bounty_id: str, freelancer_id: str):
    participant = repo.get_participant(bounty_id, freelancer_id)
    return None if participant.submissions is None else [(n.id, n.status) for n in participant.submissions]


def _as_an_earlier_release_stored_it(bounty_id: str, freelancer_id: str) -> None:
    m.ParticipantModel(bounty_id, freelancer_id).update(actions=[m.ParticipantModel.submissions.remove()])


def test_each_submission_and_decision_is_noted_on_the_participant_record(api, repo, client_acct, freelancer,
                                                                        open_bounty):
    first, second = _worked_on(api, client_acct, freelancer, open_bounty)
    assert _notes(repo, open_bounty["id"], freelancer["id"]) == [(first["id"], "rejected"),
                                                                 (second["id"], "pending_review")]
    api.ok("POST", f"/v1/submissions/{second['id']}/approve", {"rating": 4}, key=client_acct["api_key"])
    assert _notes(repo, open_bounty["id"], freelancer["id"]) == [(first["id"], "rejected"),
                                                                 (second["id"], "approved")]


def test_the_upgrade_step_lists_the_submissions_of_an_earlier_releases_records_once(api, repo, client_acct,
                                                                                   freelancer, open_bounty):
    first, second = _worked_on(api, client_acct, freelancer, open_bounty)
    bounty_id, freelancer_id = open_bounty["id"], freelancer["id"]
    _as_an_earlier_release_stored_it(bounty_id, freelancer_id)
    stale = repo.get_participant(bounty_id, freelancer_id)
    assert stale.submissions is None

    assert note_submissions() >= 1
    assert _notes(repo, bounty_id, freelancer_id) == [(first["id"], "rejected"), (second["id"], "pending_review")]
    # A write begun on the record before the step fails its version check (and is retried on a fresh read), so it
    # cannot put the record back without the list.
    with pytest.raises(errors.ConcurrentUpdate):
        repo.commit(changed=[stale])
    assert note_submissions() == 0

    # Kept from then on like any record's list.
    api.ok("POST", f"/v1/submissions/{second['id']}/approve", {}, key=client_acct["api_key"])
    assert _notes(repo, bounty_id, freelancer_id) == [(first["id"], "rejected"), (second["id"], "approved")]


def test_the_upgrade_step_reads_again_a_record_changed_under_it(api, repo, client_acct, freelancer, open_bounty,
                                                               monkeypatch):
    from chalicelib.adapters import dynamo_upgrades

    first, second = _worked_on(api, client_acct, freelancer, open_bounty)
    bounty_id, freelancer_id = open_bounty["id"], freelancer["id"]
    _as_an_earlier_release_stored_it(bounty_id, freelancer_id)
    real = dynamo_upgrades._submission_notes
    decided = []

    def a_decision_lands_after_the_read(*args):
        notes = real(*args)
        if not decided:  # the client approves between the step's read and its write: the read is stale
            decided.append(api.ok("POST", f"/v1/submissions/{second['id']}/approve", {},
                                  key=client_acct["api_key"]))
        return notes

    monkeypatch.setattr(dynamo_upgrades, "_submission_notes", a_decision_lands_after_the_read)
    note_submissions()
    assert decided
    # The approval was made on the record without the list, so it kept none; the step read it again and listed it
    # as it now stands.
    assert _notes(repo, bounty_id, freelancer_id) == [(first["id"], "rejected"), (second["id"], "approved")]
