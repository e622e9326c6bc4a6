"""Each model's connection has a botocore session of its own, but all of them share one loader of botocore's data
files (chalicelib/adapters/dynamo_models.py): the files are parsed once, not once per model (~0.1 s each)."""

from __future__ import annotations

from chalicelib.adapters import dynamo
from chalicelib.adapters import dynamo_models as m


def test_every_models_session_shares_one_loader_of_botocores_data():
    m.bind()
    sessions = [model._get_connection().connection.session for model in (m.AccountModel, m.BountyModel)]
    sessions.append(dynamo._connection().session)  # the transactions' connection
    assert len({id(session) for session in sessions}) == len(sessions)
    assert len({id(session.get_component("data_loader")) for session in sessions}) == 1
