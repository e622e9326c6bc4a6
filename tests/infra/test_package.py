"""The deployment zip: runtime dependencies only, bytecode for every module, and it runs on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import package as packaging

from .conftest import PACKAGED_STAGE, ROOT


@pytest.fixture(scope="module")
def names(package_dir) -> list[str]:
    with zipfile.ZipFile(package_dir / "deployment.zip") as z:
        return z.namelist()


def _requirements(path: Path) -> set[str]:
    found = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.add(line.split("==")[0].split("[")[0].strip().lower().replace("-", "_"))
    return found


def test_only_runtime_dependencies(names):
    tops = {packaging.top_level(n) for n in names}
    # requests is also a runtime dependency (of stripe); chalice ships its small runtime, checked below.
    dev_only = _requirements(ROOT / "requirements-dev.txt") - _requirements(ROOT / "requirements.txt") - {
        "requests", "chalice"}
    assert {"localstripe", "moto", "pytest", "ruff", "cfn_lint"} <= dev_only
    leaked = {t for t in tops for dev in dev_only if t in (dev, dev.replace("_", ""))}
    assert not leaked
    assert {n for n in names if n.startswith("chalice/") and not n.startswith("chalice/__pycache__/")} == {
        "chalice/__init__.py", "chalice/app.py"}, "Chalice's runtime only, not its CLI"
    for never in ("devtools", "tests", "infra", "localstripe", "moto", "pytest", "boto3", "botocore", "s3transfer",
                  "bench", "docs"):
        assert never not in tops, never
    for runtime in _requirements(ROOT / "requirements.txt"):
        module = {"aws_lambda_powertools": "aws_lambda_powertools"}.get(runtime, runtime)
        assert module in tops, f"{runtime} (requirements.txt) is missing"
    assert "app.py" in names and "chalicelib/__init__.py" in names
    assert not any(n.startswith("chalicelib/") and "localstripe" in n for n in names)


def test_every_module_ships_precompiled(names):
    sources = [n for n in names if n.endswith(".py")]
    compiled = {n for n in names if n.endswith(".pyc")}
    assert len(sources) > 500
    missing = [s for s in sources if packaging._pyc_name(s) not in compiled]
    assert missing == []
    assert all(".cpython-311.pyc" in c for c in compiled)


def test_package_runs_on_its_own_from_its_bytecode(package_dir, tmp_path):
    """Unzipped like Lambda does, with only the runtime's boto3 beside it, the app imports and wires every
    handler; the sources are replaced by a bomb first, so the imports can only come from the .pyc files."""
    task = tmp_path / "task"
    with zipfile.ZipFile(package_dir / "deployment.zip") as z:
        z.extractall(task)
    for source in ("chalicelib/config.py", "chalicelib/workers/queues.py", "app.py"):
        (task / source).write_text("raise RuntimeError('imported from source, not from the shipped bytecode')\n")
    runtime = tmp_path / "runtime"  # what the Lambda runtime provides besides the standard library
    runtime.mkdir()
    import boto3
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import urllib3

    for module in (boto3, botocore, s3transfer, jmespath, dateutil, urllib3):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    import six

    (runtime / "six.py").symlink_to(six.__file__)
    probe = (
        "import sys; assert not any('site-packages' in p for p in sys.path), sys.path\n"
        "import app, chalicelib.config as c\n"
        "assert c.__cached__.endswith('.cpython-311.pyc')\n"
        "print(sorted(s.name for s in app.app.event_sources))\n"
        "import chalicelib.api.schemas, chalicelib.adapters.stripe_payments, chalicelib.adapters.dynamo\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{task}:{runtime}", "STAGE": PACKAGED_STAGE,
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-S", "-c", probe], cwd=task, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['payouts_worker', 'refunds_worker', 'sweep_timers', 'timers_worker']"


def test_check_zip_reports_what_is_wrong(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("app.py", "")
        z.writestr("localstripe/__init__.py", "")
        z.writestr("botocore/__init__.py", "")
    problems = packaging.check_zip(bad)
    assert any("localstripe" in p for p in problems)
    assert any("botocore" in p for p in problems)
    assert any("chalicelib/__init__.py" in p for p in problems)
