"""The Stripe stand-in keeps its store in a file (as `make run` starts it) without saving the whole store on each write.

localstripe pickled its entire store after every object it created or changed, so a stack that had run for a while
(a soak of ten minutes: 1,200 bounties) spent most of each Stripe call saving history, and calls began to time out
or be reset: 503 `payments_unavailable` on posting and funding bounties.
"""

from __future__ import annotations

import pickle
import statistics
import time
import uuid

import stripe

from devtools.servers import start_localstripe

HISTORY = 20_000  # objects a long-running stack has made; none of them a customer


def _history(path) -> float:
    """Writes a store file of that much history; returns how long one pickling of it takes."""
    store = {f"history:{i}": {"id": i, "lines": [{"n": n, "text": str(n)} for n in range(20)]}
             for i in range(HISTORY)}
    started = time.perf_counter()
    with open(path, "wb") as f:
        pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)
    return time.perf_counter() - started


def _customers(path) -> set[str]:
    with open(path, "rb") as f:
        return {key for key in pickle.load(f) if key.startswith("customer:")}


def test_a_write_does_not_save_the_whole_store_but_a_stop_keeps_it(tmp_path):
    data = tmp_path / "stripe.pickle"
    one_save = _history(data)
    server = start_localstripe(data_file=data)
    try:
        client = stripe.StripeClient("sk_test_store", base_addresses={"api": server.url})
        seconds, made = [], set()
        for _ in range(8):
            started = time.perf_counter()
            made.add(client.v1.customers.create({"email": f"{uuid.uuid4().hex[:8]}@example.com"}).id)
            seconds.append(time.perf_counter() - started)
        assert statistics.median(seconds) < one_save / 2, (seconds, one_save)
        # Saved a moment later, while it runs (a crash loses at most that moment) ...
        deadline = time.monotonic() + 10
        while {f"customer:{c}" for c in made} - _customers(data):
            assert time.monotonic() < deadline, "the store was not saved while the stand-in ran"
            time.sleep(0.2)
        last = client.v1.customers.create({"email": "last@example.com"}).id
    finally:
        server.stop()
    # ... and on a graceful stop, however soon after the last write.
    assert f"customer:{last}" in _customers(data)
    again = start_localstripe(data_file=data)
    try:
        client = stripe.StripeClient("sk_test_store", base_addresses={"api": again.url})
        assert client.v1.customers.retrieve(last).email == "last@example.com"
    finally:
        again.stop()
