"""The local stack is ready when `GET /v1/openapi.json` answers 200 (the contract's word): not a moment before its
tables, state, webhook and workers are in place, however long provisioning takes."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from devtools.servers import free_port
from devtools.stack import LocalStack

pytestmark = pytest.mark.e2e


class SlowlyProvisioned(LocalStack):
    """Provisioning as slow as on a busy machine, or as a restore of a large state."""

    def _run(self, module: str, *args: str, quiet: bool = False) -> None:
        if module == "devtools.provision":
            time.sleep(5)
        super()._run(module, *args, quiet=quiet)


def test_the_document_answers_only_once_everything_is_in_place():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first: dict[str, object] = {}

    def as_a_client_waits_for_the_stack() -> None:
        started = time.monotonic()
        while time.monotonic() - started < 120:
            try:
                urllib.request.urlopen(f"{url}/v1/openapi.json", timeout=5).close()
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
                continue
            body = json.dumps({"role": "client", "name": "Early", "email": "early@example.com"}).encode()
            request = urllib.request.Request(f"{url}/v1/accounts", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    first["status"] = answer.status
            except urllib.error.HTTPError as error:
                first["status"] = error.code
            return

    waiting = threading.Thread(target=as_a_client_waits_for_the_stack)
    waiting.start()
    with SlowlyProvisioned(port=port, quiet=True):
        waiting.join()
    assert first.get("status") == 201, first
