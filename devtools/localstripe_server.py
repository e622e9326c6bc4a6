"""Runs localstripe on one interface, with a store file of our choosing and our dev plugin."""

from __future__ import annotations

import argparse
import asyncio
import logging
import pickle
from pathlib import Path

from aiohttp import web
from localstripe import resources, server

from devtools import localstripe_plugin

SAVE_EVERY_SECONDS = 1.0


class _StoreFile:
    """localstripe pickles its whole store to a fixed /tmp path after every write (each object it creates or
    changes: a funded bounty makes several), so on a long-running stack every Stripe call took longer as the store
    grew, its event loop blocked meanwhile, and calls began to time out or be reset (503 `payments_unavailable`).
    Here a write only marks the store changed; it is saved to our path at most once a `SAVE_EVERY_SECONDS`, and on
    a graceful stop (SIGTERM, SIGINT), so a restart finds what a stop left."""

    def __init__(self, path: Path | None):
        self.path = path
        self.changed = False

    def load(self, store) -> None:
        if self.path is None or not self.path.exists():
            return
        with open(self.path, "rb") as f:
            old = pickle.load(f)
        store.clear()
        store.update(old)

    def mark(self, store) -> None:
        self.changed = self.path is not None

    def save(self) -> None:
        if not self.changed:
            return
        self.changed = False
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(resources.store), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.path)

    async def _save_every(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            self.save()

    def install(self, app: web.Application) -> None:
        # Functions on the class, so that each is called with the store it is a method of.
        resources.Store.try_load_from_disk = lambda store: self.load(store)
        resources.Store.dump_to_disk = lambda store: self.mark(store)

        async def saving(app: web.Application):
            task = asyncio.ensure_future(self._save_every())
            yield
            task.cancel()
            self.save()

        app.cleanup_ctx.append(saving)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--data-file", type=Path, default=None, help="keep state here across restarts")
    args = parser.parse_args()

    _StoreFile(args.data_file).install(server.app)
    localstripe_plugin.install(server.app)
    resources.store.try_load_from_disk()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
