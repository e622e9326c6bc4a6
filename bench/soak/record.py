"""What the run saw: every response counted, every finding once with how often it came back."""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass, field


@dataclass
class Finding:
    kind: str
    detail: str
    example: dict = field(default_factory=dict)
    count: int = 1


class Record:
    def __init__(self):
        self.lock = threading.Lock()
        self.responses: collections.Counter = collections.Counter()  # (method, template, status)
        self.actions: collections.Counter = collections.Counter()
        self.findings: dict[tuple[str, str], Finding] = {}
        self.latencies: list[float] = []
        self.memory: list[dict] = []

    def response(self, method: str, template: str, status: int, seconds: float) -> None:
        with self.lock:
            self.responses[(method, template, status)] += 1
            self.latencies.append(seconds)

    def finding(self, kind: str, detail: str, **example) -> None:
        with self.lock:
            key = (kind, detail)
            if key in self.findings:
                self.findings[key].count += 1
            else:
                self.findings[key] = Finding(kind, detail, example)
                print(f"[soak] FINDING {kind}: {detail} {json.dumps(example, default=str)[:600]}", flush=True)

    def action(self, name: str) -> None:
        with self.lock:
            self.actions[name] += 1

