"""Runs localstripe on one interface, with a store file of our choosing and our dev plugin."""

from __future__ import annotations

import argparse
import logging
import pickle
from pathlib import Path

from aiohttp import web
from localstripe import resources, server

from devtools import localstripe_plugin


def _use_store_file(path: Path | None) -> None:
    """localstripe pickles to a fixed /tmp path; point it at ours (or at nothing)."""

    def load(store):
        if path is None or not path.exists():
            return
        with open(path, "rb") as f:
            old = pickle.load(f)
        store.clear()
        store.update(old)

    def dump(store):
        if path is None:
            return
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--data-file", type=Path, default=None, help="keep state here across restarts")
    args = parser.parse_args()

    _use_store_file(args.data_file)
    localstripe_plugin.install(server.app)
    resources.store.try_load_from_disk()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
