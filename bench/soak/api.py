"""The API over HTTP, every answer checked against the contract as it comes."""

from __future__ import annotations

import json
import threading
import time

import requests

from bench.soak.contract import NOT_JSON, Contract
from bench.soak.record import Record


class Api:
    def __init__(self, base_url: str, contract: Contract, record: Record):
        self.base_url = base_url
        self.contract = contract
        self.record = record
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def close(self) -> None:
        """Closes this thread's connections (a client leaving, not resetting them)."""
        if hasattr(self._local, "session"):
            self._local.session.close()
            del self._local.session

    def call(self, method: str, path: str, body=None, key: str | None = None, idempotency_key: str | None = None,
             expect: tuple[int, ...] | None = None):
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body) if body is not None else None
        started = time.monotonic()
        try:
            response = self._session().request(method, self.base_url + path, data=data, headers=headers, timeout=90)
        except requests.RequestException as error:
            self.record.finding("transport", f"{method} {self.contract.template(method, path)}: "
                                f"{type(error).__name__}", error=str(error)[:300])
            return 0, None
        seconds = time.monotonic() - started
        try:
            parsed = response.json()
        except ValueError:
            parsed = NOT_JSON
        template = self.contract.template(method, path) or path
        self.record.response(method, template, response.status_code, seconds)
        if response.status_code >= 500:
            self.record.finding("5xx", f"{method} {template} -> {response.status_code}",
                                body=response.text[:500], request=body)
        for problem in self.contract.problems(method, path, response.status_code, parsed,
                                              response.headers.get("Content-Type", "")):
            self.record.finding("contract", f"{method} {template} {response.status_code}: {problem}",
                                body=response.text[:500])
        if expect and response.status_code not in expect:
            self.record.finding("unexpected status", f"{method} {template} -> {response.status_code}, expected "
                                f"{expect}", body=response.text[:500], request=body)
        if seconds > 20:
            self.record.finding("slow", f"{method} {template} took over 20 s", seconds=round(seconds, 1))
        return response.status_code, (None if parsed is NOT_JSON else parsed)

    def pages(self, path: str, key: str | None, limit: int = 20, max_pages: int = 200) -> list[dict]:
        """Every item of a list, page by page with its cursor; a repeated id across pages is a finding."""
        items, seen, cursor = [], set(), None
        for _ in range(max_pages):
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&cursor={requests.utils.quote(cursor)}" if cursor else "")
            status, body = self.call("GET", url, key=key, expect=(200,))
            if status != 200 or not body:
                return items
            for item in body["items"]:
                if item["id"] in seen:
                    self.record.finding("list", f"GET {self.contract.template('GET', path)}: an item twice across "
                                        "pages", id=item["id"])
                seen.add(item["id"])
                items.append(item)
            cursor = body["next_cursor"]
            if not cursor:
                return items
        return items

