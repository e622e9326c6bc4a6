"""Cold start: fresh interpreters importing `app` from the package as deployed, against a floor.

The package is infra/package.py's deployment.zip (precompiled bytecode, boto3 left to the runtime), unzipped as
Lambda unzips it into /var/task; boto3/botocore/s3transfer come from a separate directory, as from /var/runtime.
Each child starts with `python -S` (no site-packages) and that path only, so it imports what Lambda would.

  floor: import boto3 and pynamodb.models, create a DynamoDB client   (any PynamoDB Lambda pays this)
  app:   import app                                                   (what each of our functions does)

Then each child serves one request (GET of an unknown bounty: one GetItem on moto; the floor makes the same GetItem
with its client) and reports its peak memory: VmHWM from /proc/self/status, since on Linux ru_maxrss survives
fork+exec and would show the benchmark's own peak. Runs alternate floor/app to cancel drift; medians.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench-cold-start"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")
LAZY = ("stripe", "jinja2")
WATCHED = ("boto3", "pynamodb", "pydantic", "aws_lambda_powertools", "chalice") + LAZY
IMPORT_TARGET = 1.15
MEMORY_LIMIT_MB = 128

CHILD = r"""
import json, resource, sys, time
task, runtime, mode, table = sys.argv[1:5]
sys.path[:0] = [task, runtime]
started = time.perf_counter()
if mode == "floor":
    import boto3, pynamodb.models
    client = boto3.client("dynamodb")
else:
    import app
imported = time.perf_counter()
out = {"import": imported - started, "modules": sorted(m for m in sys.modules if "." not in m)}
if mode == "floor":
    client.get_item(TableName=table, Key={"id": {"S": "bty_missing"}}, ConsistentRead=True)
    status = 200
else:
    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "api_handler", 256, "cold-start"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api_handler"
        def get_remaining_time_in_millis(self):
            return 29000
    path = "/v1/bounties/bty_missing"
    event = {"resource": "/v1/bounties/{bounty_id}", "path": path, "httpMethod": "GET",
             "headers": {"Accept": "application/json"}, "multiValueHeaders": {"Accept": ["application/json"]},
             "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": {"bounty_id": "bty_missing"}, "stageVariables": None, "body": None,
             "isBase64Encoded": False,
             "requestContext": {"resourcePath": "/v1/bounties/{bounty_id}", "httpMethod": "GET",
                                "path": "/api" + path, "requestId": "cold-start", "stage": "api"}}
    status = app.app(event, Context())["statusCode"]
out["first_response"] = time.perf_counter() - started
out["status"] = status
# VmHWM, the peak resident set of this process image: on Linux ru_maxrss survives fork+exec and would report
# the parent's peak when that is higher.
with open("/proc/self/status") as status_file:
    hwm = next(line for line in status_file if line.startswith("VmHWM:"))
out["maxrss_mb"] = int(hwm.split()[1]) / 1024
out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["after_request"] = sorted(m for m in sys.modules if "." not in m)
print(json.dumps(out))
"""


@dataclass
class Result:
    runs: int
    floor_import: list[float] = field(default_factory=list)
    app_import: list[float] = field(default_factory=list)
    floor_first: list[float] = field(default_factory=list)
    app_first: list[float] = field(default_factory=list)
    floor_memory: list[float] = field(default_factory=list)
    app_memory: list[float] = field(default_factory=list)
    lazy_after_import: list[str] = field(default_factory=list)
    lazy_after_request: list[str] = field(default_factory=list)
    loaded_after_import: list[str] = field(default_factory=list)
    top_imports: list[tuple[str, float]] = field(default_factory=list)
    package_mb: float = 0.0
    modules_precompiled: int = 0

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    @property
    def import_ratio(self) -> float:
        return self.median(self.app_import) / self.median(self.floor_import)

    @property
    def first_ratio(self) -> float:
        return self.median(self.app_first) / self.median(self.floor_first)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted([ROOT / "requirements.txt", ROOT / "app.py", *ROOT.glob("chalicelib/**/*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_dirs() -> tuple[Path, Path, Path]:
    """(task dir, runtime dir, zip): built with infra/package.py once per version of the sources, then cached."""
    key = _fingerprint()
    base = CACHE / key
    task, runtime, zip_path = base / "task", base / "runtime", base / "deployment.zip"
    if not (task / "app.py").exists():
        from infra import package

        if CACHE.exists():
            shutil.rmtree(CACHE)
        out = package.package("bench", base / "package", run_lint=False, quiet=True)
        shutil.move(out / "deployment.zip", zip_path)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        runtime.mkdir()
        site = Path(next(p for p in sys.path if p.endswith("site-packages")))
        for name in RUNTIME_PACKAGES:
            (runtime / name).symlink_to(site / name)
    return task, runtime, zip_path


def _child(task: Path, runtime: Path, mode: str, table: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-S", *extra, "-c", CHILD, str(task), str(runtime), mode, table],
                          capture_output=True, text=True, env=env, cwd=task, timeout=120)


def _top_imports(task: Path, runtime: Path, table: str, count: int = 8) -> list[tuple[str, float]]:
    """Where `import app` spends its time (python -X importtime): self time summed by top-level package."""
    done = _child(task, runtime, "app", table, "-X", "importtime")
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = (part.strip() for part in line[len("import time:"):].split("|"))
        top = name.split(".")[0]
        totals[top] = totals.get(top, 0.0) + int(own) / 1e6
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:count]


def run(runs: int = 15) -> Result:
    from chalicelib.adapters import dynamo_models as m

    task, runtime, zip_path = package_dirs()
    table = m.BountyModel.Meta.table_name
    result = Result(runs=runs, package_mb=zip_path.stat().st_size / 1e6)
    result.modules_precompiled = sum(1 for p in task.rglob("*.pyc"))
    for _ in range(1):  # warm the page cache: the first read of the files is not what Lambda measures
        _child(task, runtime, "floor", table)
        _child(task, runtime, "app", table)
    for i in range(runs * 2):
        mode = "floor" if i % 2 == 0 else "app"
        done = _child(task, runtime, mode, table)
        if done.returncode != 0:
            raise RuntimeError(f"cold start child ({mode}) failed:\n{done.stderr[-3000:]}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if mode == "app" and out["status"] != 404:
            raise RuntimeError(f"the cold request answered {out['status']}, not 404")
        getattr(result, f"{mode}_import").append(out["import"])
        getattr(result, f"{mode}_first").append(out["first_response"])
        getattr(result, f"{mode}_memory").append(out["maxrss_mb"])
        if mode == "app":
            result.lazy_after_import = [m for m in LAZY if m in out["modules"]]
            result.lazy_after_request = [m for m in LAZY if m in out["after_request"]]
            result.loaded_after_import = [m for m in WATCHED if m in out["modules"]]
        time.sleep(0.05)
    result.top_imports = _top_imports(task, runtime, table)
    return result


def markdown(r: Result) -> str:
    med = Result.median
    memory = max(r.app_memory)
    lazy = ", ".join(r.lazy_after_import) or "none"
    lazy_request = ", ".join(r.lazy_after_request) or "none"
    verdict = "✅" if r.import_ratio <= IMPORT_TARGET else f"❌ ({r.import_ratio / IMPORT_TARGET:.2f}× the target)"
    top = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in r.top_imports)
    return f"""| | floor: boto3 + PynamoDB + DynamoDB client | `import app` | ratio | target |
|---|---:|---:|---:|---|
| import (median of {r.runs} fresh interpreters each) | {med(r.floor_import) * 1000:.0f} ms | \
{med(r.app_import) * 1000:.0f} ms | **{r.import_ratio:.2f}×** | ≤ {IMPORT_TARGET}× {verdict} |
| import + first request (one GetItem) | {med(r.floor_first) * 1000:.0f} ms | {med(r.app_first) * 1000:.0f} ms | \
{r.first_ratio:.2f}× | — |
| peak memory after the first request (max of runs) | {max(r.floor_memory):.0f} MB | {memory:.0f} MB | \
{memory / max(r.floor_memory):.2f}× | fits {MEMORY_LIMIT_MB} MB {"✅" if memory < MEMORY_LIMIT_MB * 0.8 else "❌"} \
({memory / MEMORY_LIMIT_MB:.0%} of it) |

- Package: infra/package.py's deployment.zip ({r.package_mb:.1f} MB, {r.modules_precompiled} precompiled modules),
  unzipped; boto3/botocore/s3transfer from a separate directory as the Lambda runtime provides them.
- Loaded by `import app` (top-level packages watched): {", ".join(r.loaded_after_import)}.
  **stripe / jinja2 imported at cold start: {lazy}**; after the first request: {lazy_request}.
- Where a cold start spends its import time, `import app` and the first request (`python -X importtime`,
  self time summed by top-level package): {top}.
"""


if __name__ == "__main__":
    from .stack import Stack

    with Stack():
        print(markdown(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
