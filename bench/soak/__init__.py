"""A soak of the running local stack: many clients and freelancers at once, for minutes, then every invariant.

    .venv/bin/python -m bench.soak --url http://127.0.0.1:8731 --minutes 12 --threads 12
    .venv/bin/python -m bench.soak --url http://127.0.0.1:8731 --smoke     # seconds, for tests/bench/test_soak.py

Talks to a stack `make run` (or `PORT=... python -m devtools.stack`) started from this checkout, over HTTP as any
user's code would, and to its Stripe stand-in with Stripe's SDK (a client paying with the client secret). Every
response is checked against the running API's own OpenAPI document (a status it lists, a body matching its
schema, the error shape) and against API.md's rules where the driver knows the answer (a ledger that balances, an
idempotent POST replayed byte for byte). When the time is up the traffic stops, every freelancer onboards, the
timers drain, and each bounty is checked: ledger, slots, payouts, Stripe's transfers, `ops reconcile`, the dead-
letter queues, the stack's logs and its processes' memory. Exit status 1 when anything was found; a JSON report
(`--report`) holds every finding and the counts.

The pieces: `contract` (answers against the OpenAPI document), `api` (HTTP calls, each checked), `record` (what was
seen: findings, counts), `world` (the people and work the driver made), `actors` (clients and freelancers acting at
random), `checks` (after the traffic), `memory` (the stack's processes), `cli` (the run and its report).
"""
