"""moto's server finding the service a request is for, once per host rather than on every request.

For every request, moto's dispatcher looks up the service behind the request's host twice (the host it was sent to,
then one inferred from its signature), under a lock every request shares: each look lists moto's package directory,
stats each of its ~150 entries, and tries a few hundred URL patterns. About half a millisecond a request, a quarter
of what a small DynamoDB read takes on this server, paid by every request of the tests, `make run` and the
benchmarks, and by SQS's long polls waiting their turn. DynamoDB and SQS have no such cost.

The answer depends only on the host, and moto's services and their URL patterns are fixed once it is imported, so
here each host is looked up once and remembered.
"""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

STOCK_LOOKUP = DomainDispatcherApplication.get_backend_for_host
HOSTS_REMEMBERED = 1_000  # the stack's clients use a handful; past this, a host is looked up each time
_MISSING = object()


def _remembered_lookup(self: DomainDispatcherApplication, host: str | None):
    known = self.__dict__.setdefault("_backends_by_host", {})
    backend = known.get(host, _MISSING)
    if backend is _MISSING:
        backend = STOCK_LOOKUP(self, host)
        if len(known) < HOSTS_REMEMBERED:
            known[host] = backend
    return backend


def install() -> None:
    assert DomainDispatcherApplication.get_backend_for_host in (STOCK_LOOKUP, _remembered_lookup)
    DomainDispatcherApplication.get_backend_for_host = _remembered_lookup
