"""Start the stand-in servers (moto, localstripe) as child processes bound to 127.0.0.1."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
RELEASE_PATH = "/_dev/sqs/release-in-flight"  # devtools.moto_server: received messages made visible again


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class PortTaken(RuntimeError):
    pass


def check_port_free(port: int, setting: str) -> None:
    """Refuses a port something already listens on. Otherwise the stack's readiness check would be answered by
    that other server (another `make run`, say): the stack would announce itself ready on it, or talk to a
    stranger's moto or localstripe. SO_REUSEADDR as the servers bind, so a port a stack just left is free."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as error:
            raise PortTaken(f"port {port} on {LOOPBACK} is taken ({error.strerror}), by another `make run` "
                            f"perhaps: stop that, or choose another port ({setting}=...)") from error


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_http(url: str, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Polls until `url` answers at all (any HTTP status counts as up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode} before it was ready")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    """Run in a child before it starts (Popen's preexec_fn): Linux sends it SIGTERM when the process that started
    it dies, however it dies (kill -9, a closed terminal), so no server outlives the stack holding its port and a
    restart finds its ports free. Elsewhere nothing happens."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def _spawn(name: str, args: Sequence[str], ready_url: str, base_url: str, log: Path | None) -> Server:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
                               start_new_session=True,  # Ctrl-C reaches the parent, which stops us in order
                               preexec_fn=end_with_parent)
    try:
        wait_for_http(ready_url, process=process)
    except Exception:
        process.kill()
        raise
    return Server(name, base_url, process)


def start_moto(port: int | None = None, *, log: Path | None = None) -> Server:
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    args = [sys.executable, "-m", "devtools.moto_server", "-H", LOOPBACK, "-p", str(port)]
    return _spawn("moto", args, f"{url}/moto-api/", url, log)


def start_localstripe(port: int | None = None, *, data_file: Path | None = None, log: Path | None = None) -> Server:
    """localstripe with our dev plugin; state kept in `data_file` (a fresh store when None)."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    args = [sys.executable, "-m", "devtools.localstripe_server", "--host", LOOPBACK, "--port", str(port)]
    if data_file is not None:
        args += ["--data-file", str(data_file)]
    return _spawn("localstripe", args, f"{url}/v1/customers", url, log)


def register_webhook(stripe_url: str, hook_id: str, url: str, secret: str) -> None:
    """Points localstripe's webhook `hook_id` at `url`, subscribed as the deployed endpoints are: to the events the
    webhook takes (chalicelib.ports.WEBHOOK_EVENT_TYPES) alone. localstripe has one endpoint for both of Stripe's."""
    import urllib.parse

    from chalicelib.ports import WEBHOOK_EVENT_TYPES

    form = urllib.parse.urlencode({"url": url, "secret": secret, "events[]": WEBHOOK_EVENT_TYPES},
                                  doseq=True).encode()
    urllib.request.urlopen(urllib.request.Request(f"{stripe_url}/_config/webhooks/{hook_id}", data=form),
                           timeout=10).close()
