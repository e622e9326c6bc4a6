"""Fixtures for the deployment tests: one package of the `prod` stage per run (chalice package is slow) and a
moto server of our own, reached over HTTP like AWS, so the scripts run unchanged in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED_STAGE = "prod"  # differs from stages.json's default, so per-stage settings are visible
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def script_env(**extra: str) -> dict[str, str]:
    """The environment of a script under test: none of the test process's AWS or app settings leak in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "STRIPE_", "API_KEY_", "STAGE", "TABLE_PREFIX", "QUEUE_PREFIX",
                                "ALARM_EMAIL", "DEPLOY_BUCKET", "DELETE_", "DRY_RUN", "ADOPT_", "PUBLIC_BASE_URL",
                                "MAX_RECEIVE_COUNT"))}
    env.update({"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    env.update(extra)
    return env


def run_script(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "infra" / script), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory) -> Path:
    """`sh infra/package.sh` (what `make package` runs) for the prod stage, once per test run."""
    out = tmp_path_factory.mktemp("package") / PACKAGED_STAGE
    result = run_script("package.sh", "--out", str(out), "--no-lint", env=script_env(STAGE=PACKAGED_STAGE))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def template(package_dir) -> dict:
    return json.loads((package_dir / "sam.json").read_text())


@pytest.fixture(scope="session")
def resources_template() -> dict:
    return json.loads((ROOT / "infra" / "resources.json").read_text())


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    import time
    import urllib.request

    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"moto exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto at {url} did not answer")


class Moto:
    def __init__(self, url: str):
        self.url = url

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def env(self, **extra: str) -> dict[str, str]:
        return script_env(AWS_ENDPOINT_URL=self.url, **extra)

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture(scope="session")
def moto_aws():
    """A moto server in a child process (its own, whatever other test packages start)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, process)
        yield Moto(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def aws(moto_aws) -> Moto:
    moto_aws.reset()
    return moto_aws
