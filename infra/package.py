"""Packages one stage: `chalice package` merged with infra/, then the zip rebuilt for fast cold starts.

Writes into build/<stage>/ (or --out):
  merge.json       what infra/build_template.py adds to Chalice's template
  sam.json         the template to deploy (CodeUri ./deployment.zip until infra/deploy.py uploads it)
  deployment.zip   app.py, chalicelib/ and the runtime dependencies of requirements.txt, each module with
                   its precompiled bytecode; boto3/botocore left out (the Lambda runtime has them)

Usage: python -m infra.package --stage dev [--out DIR] [--no-lint]
"""

from __future__ import annotations

import argparse
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra import build_template, honour_aws_region

ROOT = build_template.INFRA.parent
RUNTIME = "python3.11"
PYC_TAG = "cpython-311"
# Provided by the Lambda Python runtime, and big: botocore alone is two thirds of the zip.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Never in the package: dev tools, stand-ins, test code (requirements-dev.txt, devtools/, tests/).
FORBIDDEN_TOP_LEVEL = ("devtools", "tests", "infra", "localstripe", "moto", "pytest", "_pytest", "ruff", "cfnlint",
                       "aiohttp", "werkzeug", "flask", "playwright", "docker", "responses")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def top_level(name: str) -> str:
    first = name.split("/", 1)[0]
    if first.endswith(".dist-info"):
        first = first.split("-", 1)[0]
    return first.removesuffix(".py").lower()


def _excluded(name: str) -> bool:
    return top_level(name) in PROVIDED_BY_RUNTIME or "/__pycache__/" in f"/{name}" or name.endswith(".pyc")


def _pyc_name(name: str) -> str:
    folder, _, file = name.rpartition("/")
    stem = file.removesuffix(".py")
    return f"{folder}/__pycache__/{stem}.{PYC_TAG}.pyc" if folder else f"__pycache__/{stem}.{PYC_TAG}.pyc"


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def rebuild_zip(source: Path, target: Path) -> dict:
    """Copies `source` to `target` without the runtime's own packages, adding bytecode for every module.

    The .pyc files use unchecked hashes: the importer trusts them without comparing the source's mtime,
    which a zip and Lambda's extraction do not preserve."""
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"package with Python 3.11 (the Lambda runtime {RUNTIME}); this is {sys.version.split()[0]}")
    stats = {"modules": 0, "compiled": 0, "dropped": 0, "not_compiled": []}
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(source) as zin, \
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        scratch_dir = Path(scratch)
        for info in sorted(zin.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir():
                continue
            if _excluded(name):
                stats["dropped"] += 1
                continue
            data = zin.read(info)
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            zout.writestr(_entry(name, mode), data)
            if not name.endswith(".py"):
                continue
            stats["modules"] += 1
            src = scratch_dir / "src.py"
            pyc = scratch_dir / "out.pyc"
            src.write_bytes(data)
            try:
                py_compile.compile(str(src), cfile=str(pyc), dfile=f"/var/task/{name}", doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            except py_compile.PyCompileError:
                stats["not_compiled"].append(name)  # e.g. a Python 2 file a package ships but never imports
                continue
            zout.writestr(_entry(_pyc_name(name), 0o644), pyc.read_bytes())
            stats["compiled"] += 1
    return stats


def check_zip(path: Path) -> list[str]:
    """What is wrong with a deployment zip (empty when nothing is)."""
    problems = []
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    tops = {top_level(n) for n in names}
    for forbidden in FORBIDDEN_TOP_LEVEL + PROVIDED_BY_RUNTIME:
        if forbidden in tops:
            problems.append(f"{forbidden} must not be in the package")
    for required in ("app.py", "chalicelib/__init__.py", f"chalicelib/__pycache__/config.{PYC_TAG}.pyc"):
        if required not in names:
            problems.append(f"{required} is missing")
    return problems


def chalice_package(stage: str, merge_file: Path, out: Path) -> None:
    env = dict(os.environ)
    # The @app.on_sqs_message decorators read the queue names from STAGE when Chalice imports the app.
    env["STAGE"] = stage
    for name in ("QUEUE_PREFIX", "TABLE_PREFIX", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    env["AWS_DEFAULT_REGION"] = honour_aws_region(env) or "us-east-1"
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice) if chalice.exists() else "chalice", "package", "--stage", stage,
               "--merge-template", str(merge_file), str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def lint(template: Path) -> None:
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())", str(template)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"cfn-lint found problems in {template}:\n{result.stdout}{result.stderr}")


def package(stage: str, out: Path | None = None, *, run_lint: bool = True, quiet: bool = False) -> Path:
    build_template.check_stage(stage)
    out = (out or ROOT / "build" / stage).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    merge_file = out / "merge.json"
    build_template.main(["--stage", stage, "--output", str(merge_file)])
    chalice_out = out / "chalice"
    chalice_package(stage, merge_file, chalice_out)
    stats = rebuild_zip(chalice_out / "deployment.zip", out / "deployment.zip")
    shutil.move(chalice_out / "sam.json", out / "sam.json")
    shutil.rmtree(chalice_out)
    problems = check_zip(out / "deployment.zip")
    if problems:
        raise SystemExit("the deployment package is wrong:\n  " + "\n  ".join(problems))
    if run_lint:
        lint(out / "sam.json")
    if not quiet:
        size = (out / "deployment.zip").stat().st_size / 1e6
        print(f"packaged stage {stage} in {out}: sam.json, deployment.zip ({size:.1f} MB, {stats['compiled']}/"
              f"{stats['modules']} modules precompiled, {stats['dropped']} files of the runtime's boto3 left out)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-lint", action="store_true", help="skip cfn-lint (the tests lint separately)")
    args = parser.parse_args(argv)
    package(args.stage, args.out, run_lint=not args.no_lint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
