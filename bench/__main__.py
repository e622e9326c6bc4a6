"""`make bench`: every benchmark in one run, written to docs/BENCHMARKS.md and docs/bench-scale.png.

    .venv/bin/python -m bench            # full: scale at 1,000 and 100,000 bounties (minutes, ~1 GB for moto)
    .venv/bin/python -m bench --quick    # 1,000 and 10,000 bounties, fewer repetitions

Every figure is a count or a ratio against a floor measured in the same run (see each module's docstring).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import cold_start, cost, overhead, round_trips, scale
from .stack import Stack

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("round_trips", "cost", "overhead", "cold_start", "scale")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 vs 10,000 bounties, fewer repetitions")
    parser.add_argument("--sizes", help="comma-separated table sizes for the scale benchmark (overrides --quick)")
    parser.add_argument("--repeats", type=int, help="runs of each hot path per size")
    parser.add_argument("--cold-runs", type=int, help="fresh interpreters of each kind (floor, app)")
    parser.add_argument("--tasks", type=int, help="lifecycles for the overhead and cost benchmarks")
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench-scale.png")
    parser.add_argument("--json", type=Path, help="also write the main counts and ratios here (for tests)")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    args.repeats = args.repeats or 2
    args.cold_runs = args.cold_runs or (7 if args.quick else 15)
    args.tasks = args.tasks or (5 if args.quick else 20)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) to skip: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results: dict = {}
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    with Stack() as stack:
        for name, runner in (
            ("round_trips", lambda: round_trips.run(stack)),
            ("cost", lambda: cost.run(stack, tasks=max(2, args.tasks // 4))),
            ("overhead", lambda: overhead.run(stack, tasks=args.tasks)),
            ("cold_start", lambda: cold_start.run(runs=args.cold_runs)),
            ("scale", lambda: scale.run(stack, args.sizes, repeats=args.repeats)),  # last: it fills the tables
        ):
            if name in args.skip:
                continue
            print(f"bench: {name} …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                results[name] = runner()
            except Exception as error:  # the others still get reported; the failure is in the doc
                import traceback

                traceback.print_exc()
                failures[name] = f"{type(error).__name__}: {error}"
            seconds[name] = time.perf_counter() - started
    if "scale" in results:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        scale.plot(results["scale"], args.plot)
    text = report(results, seconds, args, failures)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(figures(results), indent=2))
    for name, error in failures.items():
        print(f"bench: {name} FAILED: {error}", file=sys.stderr)
    print(f"bench: wrote {args.output}" + (f" and {args.plot}" if "scale" in results else ""), file=sys.stderr)
    return 1 if failures else 0


def figures(results: dict) -> dict:
    """The run's counts and ratios as plain data."""
    out: dict = {}
    if "round_trips" in results:
        out["round_trips"] = [{"name": r.name, "kind": r.kind, "status": r.status, "dynamodb": r.dynamodb,
                               "sqs": r.sqs, "scans": r.tally.scans, "items_read": r.tally.items_read / r.per,
                               "operations": dict(r.tally.operations())} for r in results["round_trips"].rows]
    if "scale" in results:
        s = results["scale"]
        out["scale"] = {path: {str(size): {attr: s.median(path, size, attr) for attr in
                                           ("dynamodb", "items_read", "read_units", "write_units", "seconds")}
                               for size in s.sizes} for path in scale.PATHS}
    if "overhead" in results:
        o = results["overhead"]
        out["overhead"] = {"ratio": o.ratio, "queued_ratio": o.queued_ratio, "guarded_ratio": o.guarded_ratio,
                           "dynamodb_per_task": o.ours.per_task(o.ours.tally.dynamodb),
                           "stripe_requests_per_task": {name: side.per_task(side.stripe_requests) for name, side in
                                                        (("raw", o.raw), ("queued", o.queued), ("guarded", o.guarded),
                                                         ("ours", o.ours))}}
    if "cost" in results:
        k = results["cost"]
        out["cost"] = {"total": k.total, **k.dollars()}
    if "cold_start" in results:
        c = results["cold_start"]
        out["cold_start"] = {"import_ratio": c.import_ratio, "first_ratio": c.first_ratio,
                             "memory_mb": max(c.app_memory), "lazy_imported": c.lazy_after_import}
    return out


def _versions() -> str:
    from importlib.metadata import version

    names = ("moto", "localstripe", "pynamodb", "boto3", "chalice")
    return ", ".join(f"{n} {version(n)}" for n in names)


def report(results: dict, seconds: dict[str, float], args, failures: dict[str, str]) -> str:
    from . import report as text

    command = ".venv/bin/python -m bench" + (" --quick" if args.quick else "")
    return text.document(results, seconds, command=command, sizes=args.sizes,
                         when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                         machine=f"Python {platform.python_version()}, {platform.machine()}, "
                                 f"{_cpu_count()} CPUs (shared), {_versions()}",
                         plot=args.plot if "scale" in results else None, output=args.output, failures=failures)


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
