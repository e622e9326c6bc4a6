"""The soak's command line: the people, the traffic, the checks after it, and the report."""

from __future__ import annotations

import argparse
import collections
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from bench.soak.actors import SMOKE_WINDOWS, SOAK_WINDOWS, Driver
from bench.soak.api import Api
from bench.soak.checks import EndOfRun
from bench.soak.contract import Contract
from bench.soak.memory import memory
from bench.soak.record import Record
from bench.soak.stack_checks import operator_checks, scan_log, wait_for_idle_workers
from bench.soak.world import World

ROOT = Path(__file__).resolve().parents[2]
# Sizes of a run, unless given: a soak, or a smoke run (a few seconds of every action, for tests/bench/test_soak.py).
SOAK = {"minutes": 10.0, "threads": 12, "clients": 6, "freelancers": 12}
SMOKE = {"minutes": 0.2, "threads": 3, "clients": 2, "freelancers": 4}
SMOKE_SETTLE_SECONDS = 30
STACK_LOGS = ("api.log", "runner.log", "moto.log", "localstripe.log")  # in the state dir of a quiet stack


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description="A soak of the running local stack, then every invariant.")
    parser.add_argument("--url", required=True, help="the stack's API, e.g. http://127.0.0.1:8731")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds, not minutes: every action, and the checks that need no timer to fire")
    for name, kind, what in (("minutes", float, "how long the traffic runs"), ("threads", int, "threads at once"),
                             ("clients", int, "client accounts"), ("freelancers", int, "freelancer accounts")):
        parser.add_argument(f"--{name}", type=kind,
                            help=f"{what} (default {SOAK[name]:g}; {SMOKE[name]:g} with --smoke)")
    parser.add_argument("--drain-seconds", type=float, default=300, help="longest wait for timers after the traffic")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local", help="the stack's state (env.json)")
    parser.add_argument("--log", type=Path, default=None, help="the stack's output, scanned for tracebacks")
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    for name, value in (SMOKE if args.smoke else SOAK).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.url = args.url.rstrip("/")
    return args


def run_traffic(driver: Driver, *, seconds: float, threads: int, sample: Callable[[str | int], dict]) -> float:
    """`threads` threads acting at random for `seconds`; progress and memory every 30 s. Returns how long it ran."""
    record, world = driver.record, driver.world
    started = time.monotonic()
    end = started + seconds

    def act() -> None:
        while time.monotonic() < end:
            try:
                driver.step()
            except Exception as error:  # noqa: BLE001 - the driver's own slip is reported, never the end of a run
                record.finding("driver", f"{type(error).__name__}: {str(error)[:120]}")
                time.sleep(0.5)
        driver.api.close()

    workers = [threading.Thread(target=act, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        time.sleep(min(30, max(2, end - time.monotonic() + 1)))
        elapsed = time.monotonic() - started
        with record.lock:
            answered = sum(record.responses.values())
        resident = sample(round(elapsed))
        print(f"[soak] {elapsed:5.0f} s: {answered} responses, {len(world.bounties)} bounties, "
              f"{len(world.submissions)} submissions, {len(record.findings)} findings; RSS "
              f"{sum(v for k, v in resident.items() if k != 'at')} MiB", flush=True)
    return time.monotonic() - started


def check_after(driver: Driver, args: argparse.Namespace, log_offset: int) -> dict:
    """Every check of the end of a run; a smoke run's bounties are younger than any timer, so it waits for the
    workers to finish what the traffic queued rather than for the timers to close every bounty."""
    record = driver.record
    print("[soak] traffic over; every freelancer onboards, then the checks", flush=True)
    for freelancer in driver.world.freelancers:
        if not freelancer.onboarded:
            driver.onboard(freelancer)
    end = EndOfRun(driver)
    if args.smoke:
        wait_for_idle_workers(record, args.state_dir, SMOKE_SETTLE_SECONDS)
        stats = end.check(settle_seconds=SMOKE_SETTLE_SECONDS, timers_drained=False)
    else:
        end.drain(args.drain_seconds)
        stats = end.check(settle_seconds=120)
    operator_checks(record, args.state_dir)
    scan_log(record, args.log, log_offset)
    for name in STACK_LOGS:
        scan_log(record, args.state_dir / name, 0)
    return stats


def report(record: Record, args: argparse.Namespace, traffic_seconds: float, stats: dict) -> dict:
    latencies = sorted(record.latencies)
    return {
        "traffic_seconds": round(traffic_seconds), "threads": args.threads, "smoke": args.smoke,
        "responses": sum(record.responses.values()),
        "by_status": dict(collections.Counter(status for (_, _, status) in record.responses.elements())),
        "actions": dict(record.actions), "checked": stats,
        "latency_p50_p99_max": [latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)],
                                latencies[-1]] if latencies else None,
        "memory_mib": record.memory,
        "findings": [vars(f) for f in record.findings.values()],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    random.seed(args.seed)
    env = json.loads((args.state_dir / "env.json").read_text())
    record, world = Record(), World()
    document = requests.get(args.url + "/v1/openapi.json", timeout=30).json()
    api = Api(args.url, Contract(document), record)
    driver = Driver(api, record, world, env["STRIPE_API_BASE"], SMOKE_WINDOWS if args.smoke else SOAK_WINDOWS)
    log_offset = args.log.stat().st_size if args.log and args.log.exists() else 0

    def sample(at: str | int) -> dict:
        record.memory.append({"at": at, **memory(args.url, env)})
        return record.memory[-1]

    print(f"[soak] memory at start (MiB): {sample('start')}", flush=True)
    world.clients = [driver.account("client") for _ in range(args.clients)]
    world.freelancers = [driver.account("freelancer") for _ in range(args.freelancers)]
    for freelancer in world.freelancers[: args.freelancers // 2]:
        driver.onboard(freelancer)
    traffic_seconds = run_traffic(driver, seconds=args.minutes * 60, threads=args.threads, sample=sample)
    stats = check_after(driver, args, log_offset)
    print(f"[soak] memory at end (MiB): {sample('end')}", flush=True)

    text = json.dumps(report(record, args, traffic_seconds, stats), indent=2, default=str)
    if args.report:
        args.report.write_text(text)
    print(text if len(text) < 20000 else text[:20000], flush=True)
    return 1 if record.findings else 0
