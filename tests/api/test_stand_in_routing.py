"""The dev moto server finds each request's service as stock moto does, looking each host up once."""

from __future__ import annotations

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from devtools import moto_routing

HOSTS = [None, "moto_api", "dynamodb", "dynamodb.us-east-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com",
         "127.0.0.1:5000", "unknown.example"]


@pytest.fixture
def dispatcher():
    return DomainDispatcherApplication(create_backend_app)


def test_each_host_gets_the_service_stock_moto_gives(dispatcher):
    stock = [moto_routing.STOCK_LOOKUP(dispatcher, host) for host in HOSTS]
    assert [moto_routing._remembered_lookup(dispatcher, host) for host in HOSTS] == stock
    assert [moto_routing._remembered_lookup(dispatcher, host) for host in HOSTS] == stock  # from memory
    assert stock[3:5] == ["dynamodb", "sqs"]


def test_a_host_is_looked_up_once(dispatcher, monkeypatch):
    looked_up = []
    monkeypatch.setattr(moto_routing, "STOCK_LOOKUP", lambda app, host: looked_up.append(host) or "dynamodb")
    for _ in range(3):
        moto_routing._remembered_lookup(dispatcher, "dynamodb.us-east-1.amazonaws.com")
    assert looked_up == ["dynamodb.us-east-1.amazonaws.com"]


def test_past_the_limit_hosts_are_looked_up_each_time(dispatcher, monkeypatch):
    looked_up = []
    monkeypatch.setattr(moto_routing, "STOCK_LOOKUP", lambda app, host: looked_up.append(host))
    monkeypatch.setattr(moto_routing, "HOSTS_REMEMBERED", 2)
    for host in ["a", "b", "c", "c"]:
        moto_routing._remembered_lookup(dispatcher, host)
    assert looked_up == ["a", "b", "c", "c"]
