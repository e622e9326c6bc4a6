"""`make run`: the whole system on one machine, as deployed but with stand-ins.

moto (DynamoDB, SQS) and localstripe (with our plugin) on loopback, tables and queues provisioned, the Stripe
webhook pointed at our API, `chalice local` serving the API and the web form on $PORT, and the runner feeding the
queues to the SQS handlers and firing the schedules. State lives in .local/ and survives a restart (`make reset`
wipes it): the tables are checkpointed every 30 s, and everything, queued messages too, is saved on a graceful
stop. Ctrl-C stops everything this started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from chalicelib import config
from devtools.servers import (
    LOOPBACK,
    PortTaken,
    Server,
    check_port_free,
    end_with_parent,
    free_port,
    register_webhook,
    start_localstripe,
    start_moto,
    wait_for_http,
)

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_ID = "local-api"


class LocalStack:
    def __init__(self, *, port: int = 8000, state_dir: Path | None = ROOT / ".local", schedule_seconds: float = 2.0,
                 quiet: bool = False, extra_env: dict[str, str] | None = None, checkpoint_seconds: float = 30.0):
        self.port = port
        self.checkpoint_seconds = checkpoint_seconds
        self._checkpoints: threading.Thread | None = None
        self._stopping = threading.Event()
        self.url = f"http://{LOOPBACK}:{port}"
        self.state_dir = state_dir
        self.schedule_seconds = schedule_seconds
        self.quiet = quiet
        self.extra_env = extra_env or {}
        self.servers: list[Server] = []
        self.processes: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}
        self._wrote_settings = False

    # -- lifecycle --

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        check_port_free(self.port, "PORT")
        logs = self._log_dir()
        moto = start_moto(_port("MOTO_PORT"), log=logs / "moto.log" if logs else None)
        self.servers.append(moto)
        stripe_file = self.state_dir / "stripe.pickle" if self.state_dir else None
        stripe = start_localstripe(_port("STRIPE_PORT"), data_file=stripe_file,
                                   log=logs / "localstripe.log" if logs else None)
        self.servers.append(stripe)
        self.env = self._environment(moto.url, stripe.url)
        # Provisioning and state snapshots run as child processes in the stack's environment, so the caller's
        # own settings (a test session's moto, its bound tables) stay untouched.
        self._run("devtools.provision")
        if self.state_dir:
            self._run("devtools.local_state", "restore", str(self.state_dir / "aws-state.json"))
        self._register_webhook(stripe.url)
        if self.state_dir:  # for operator commands: `python -m ops --local ...`
            (self.state_dir / "env.json").write_text(json.dumps(self.env, indent=2))
            self._wrote_settings = True
        self._spawn("api", [sys.executable, "-m", "devtools.local_api", "--host", LOOPBACK, "--port", str(self.port),
                            "--stage", "local", "--no-autoreload"])
        self._spawn("runner", [sys.executable, "-m", "devtools.runner"])
        api = self.processes[0]
        wait_for_http(f"{self.url}/v1/openapi.json", timeout=60, process=api)
        if self.state_dir and self.checkpoint_seconds > 0:
            self._stopping.clear()  # a stack started again after a stop checkpoints again
            self._checkpoints = threading.Thread(target=self._checkpoint_every, daemon=True)
            self._checkpoints.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=320)
            self._checkpoints = None
        for process in reversed(self.processes):
            _terminate(process)
        self.processes.clear()
        if self.state_dir and self._wrote_settings:  # a stack that never got this far leaves another's alone
            (self.state_dir / "env.json").unlink(missing_ok=True)
            self._wrote_settings = False
        if self.state_dir and self.servers and self.env:
            try:
                self._run("devtools.local_state", "save", str(self.state_dir / "aws-state.json"))
            except subprocess.CalledProcessError as error:  # moto already gone: nothing to keep
                self._say(f"could not save local state: {error}")
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def _checkpoint_every(self) -> None:
        """The tables, every `checkpoint_seconds`, so a crash (kill -9, a closed terminal) loses at most that much.
        Queued messages are saved only by a graceful stop; the timers in the tables re-send what they carried."""
        while not self._stopping.wait(self.checkpoint_seconds):
            try:
                self._run("devtools.local_state", "checkpoint", str(self.state_dir / "aws-state.json"), quiet=True)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                if not self._stopping.is_set():
                    self._say(f"could not checkpoint local state: {error}")

    # -- pieces --

    def _environment(self, moto_url: str, stripe_url: str) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": moto_url, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "STAGE": "local", "STRIPE_API_BASE": stripe_url, "STRIPE_SECRET_KEY": "sk_test_local",
            "STRIPE_WEBHOOK_SECRET": "whsec_local", "PUBLIC_BASE_URL": self.url,
            "LOCAL_SCHEDULE_SECONDS": str(self.schedule_seconds), "PYTHONUNBUFFERED": "1",
            # moto is slower than DynamoDB, the more so on a busy laptop: not the deployed call limits.
            "AWS_CONNECT_TIMEOUT_SECONDS": "10", "AWS_READ_TIMEOUT_SECONDS": "60",
            # Where items are stored: written into env.json too, so operator commands file and read them where the
            # stack's workers do (`TIMER_SHARDS=2 make run`, say).
            "TIMER_SHARDS": str(config.timer_shards()), "OPEN_INDEX_SHARDS": str(config.open_index_shards()),
        }
        env.update(self.extra_env)
        return env

    def _register_webhook(self, stripe_url: str) -> None:
        register_webhook(stripe_url, WEBHOOK_ID, f"{self.url}/v1/webhooks/stripe", self.env["STRIPE_WEBHOOK_SECRET"])

    def _run(self, module: str, *args: str, quiet: bool = False) -> None:
        output = subprocess.DEVNULL if self.quiet or quiet else None
        subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env={**os.environ, **self.env}, check=True,
                       stdout=output, timeout=300)

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = self._log_dir()
        out = open(logs / f"{name}.log", "ab") if logs and self.quiet else None  # noqa: SIM115 - the child's
        process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **self.env}, stdout=out,
                                   stderr=subprocess.STDOUT if out else None, start_new_session=True,
                                   preexec_fn=end_with_parent)
        self.processes.append(process)

    def _log_dir(self) -> Path | None:
        if self.state_dir is None:
            return None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.state_dir

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(f"[stack] {text}", flush=True)


def _port(name: str) -> int:
    if not os.environ.get(name):
        return free_port()
    port = int(os.environ[name])
    check_port_free(port, name)
    return port


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    try:
        check_port_free(port, "PORT")  # before the signals are taken over and the parent's death is asked for
        return _serve(port)
    except PortTaken as error:
        print(f"[stack] not started: {error}", file=sys.stderr, flush=True)
        return 1


def _serve(port: int) -> int:
    """Runs the stack until a signal (0) or until one of its processes dies (1: `make run` then fails)."""
    failed = False
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal was closed
        signal.signal(signum, lambda *_: stop.set())
    # `make run` stopped with SIGTERM (a process manager, `kill`) ends without passing it on: its death is our SIGTERM.
    end_with_parent()
    checkpoint = float(os.environ.get("CHECKPOINT_SECONDS", "30"))  # 0: only on a graceful stop
    state_dir = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")  # another: a test's, beside the user's
    with LocalStack(port=port, state_dir=state_dir, checkpoint_seconds=checkpoint) as stack:
        print(f"\n  Bounty board running at {stack.url}\n"
              f"  API: {stack.url}/v1/openapi.json    Web form: {stack.url}/web/\n"
              f"  Stripe stand-in: {stack.env['STRIPE_API_BASE']}    Ctrl-C stops everything.\n", flush=True)
        while not stop.wait(1):
            dead = [p for p in stack.processes if p.poll() is not None]
            if dead:
                print(f"[stack] a process exited ({dead[0].args[:3]}); stopping", flush=True)
                failed = True
                break
    print("[stack] stopped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
