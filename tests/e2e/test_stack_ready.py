"""The local stack is ready when `GET /v1/openapi.json` answers 200 (the contract's word): not a moment before its
tables, state, webhook and workers are in place, however long provisioning takes."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from devtools import stack
from devtools.servers import LOOPBACK, PortTaken, free_port
from devtools.stack import LocalStack

pytestmark = pytest.mark.e2e


class SlowlyProvisioned(LocalStack):
    """Provisioning as slow as on a busy machine, or as a restore of a large state."""

    def _run(self, module: str, *args: str, quiet: bool = False) -> None:
        if module == "devtools.provision":
            time.sleep(5)
        super()._run(module, *args, quiet=quiet)


def test_the_document_answers_only_once_everything_is_in_place(tmp_path):
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
    # A state directory of its own: the checkout's .local is the user's `make run`, which may be running.
    with SlowlyProvisioned(port=port, state_dir=tmp_path, quiet=True):
        waiting.join()
    assert first.get("status") == 201, first


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    """A second `make run` on a port that is taken would otherwise see the first stack answer its readiness check,
    announce itself ready there, and stop at once."""
    settings = tmp_path / "env.json"
    settings.write_text("{}")  # the running stack's, for `ops --local`: left alone
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port} .* is taken"):
            LocalStack(port=port, state_dir=tmp_path, quiet=True).start()
        assert settings.read_text() == "{}"
        monkeypatch.setenv("PORT", str(port))
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        assert stack.main() == 1
    assert "choose another port (PORT=...)" in capsys.readouterr().err
    # Refused before the stack takes its signals over: in this test's process, Ctrl-C would otherwise stop nothing.
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
