"""`make reset`: deletes the local stack's state (.local/), but not from under a stack that is running.

A running stack keeps its tables in moto's memory and checkpoints them into .local/ every 30 s and on stopping:
wiped from under it, it fails each checkpoint with a traceback, `ops --local` loses its settings, and the reset is
not the clean start it was meant to be. So the stack's own settings file, there only while a stack of this
checkout runs (or after a crash), is looked at first: if its API answers, the reset is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def running_stack_url(state_dir: Path) -> str | None:
    settings = state_dir / "env.json"
    try:
        url = json.loads(settings.read_text())["PUBLIC_BASE_URL"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        urllib.request.urlopen(f"{url}/v1/openapi.json", timeout=3).close()
    except urllib.error.HTTPError:
        return url  # it answers, if oddly: something serves there
    except (OSError, ValueError):
        return None  # left behind by a crash: nothing serves there
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local"))
    state_dir = parser.parse_args(argv).state_dir
    url = running_stack_url(state_dir)
    if url:
        print(f"make reset: the stack of this checkout is running at {url}; stop it first (Ctrl-C where `make run` "
              f"runs), then reset", file=sys.stderr)
        return 1
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"local state deleted ({state_dir}): the next `make run` starts empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
