"""Browser tests: the Chalice app served over real HTTP (chalice.local) in a thread, DynamoDB and SQS on moto,
Stripe on localstripe, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.servers import register_webhook, wait_for_http
from tests.api import conftest as api_fixtures
from tests.e2e.conftest import Http

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Every run takes the screenshots (and checks the phone layout); only `make screenshots` (UPDATE_SCREENSHOTS=1)
# writes them into the docs, so an ordinary test run leaves the checkout unchanged.
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = _ROOT / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "build/screenshots")
WIDTHS = {"phone": (360, 780), "desktop": (1280, 900)}

# The API tests' fixtures, shared: the app and the controllable clock.
chalice_app = api_fixtures.chalice_app
clock = api_fixtures.clock
stack = api_fixtures.stack
Workers = api_fixtures.Workers


@pytest.fixture(scope="session")
def web_base(chalice_app, stack):
    """The whole app on http://127.0.0.1:<free port>, with Stripe's webhooks delivered to it."""
    from chalice.config import Config
    from chalice.local import LocalDevServer

    _, localstripe = stack
    config = Config.create(chalice_stage="test", app_name="bounty-board", chalice_app=chalice_app)
    server = LocalDevServer(chalice_app, config, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server.server_address[1]}"
    before = os.environ.get("PUBLIC_BASE_URL")
    os.environ["PUBLIC_BASE_URL"] = base  # onboarding's return link and the pages' links
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    wait_for_http(base + "/v1/openapi.json")
    register_webhook(localstripe.url, "browser", base + "/v1/webhooks/stripe", os.environ["STRIPE_WEBHOOK_SECRET"])
    yield base
    server.shutdown()
    if before is None:
        os.environ.pop("PUBLIC_BASE_URL", None)
    else:
        os.environ["PUBLIC_BASE_URL"] = before


@pytest.fixture(scope="session")
def http(web_base) -> Http:
    return Http(web_base)


@pytest.fixture
def workers(chalice_app, web_base):
    """The SQS workers run in this process on the real queues, as in tests/api (tables, queues and secrets come
    from this process's environment, as for the served app)."""
    return Workers(chalice_app)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, web_base):
    """Pages in fresh browser contexts (each its own cookie jar), closed after the test."""
    contexts = []

    def make(*, javascript: bool = True):
        context = browser.new_context(base_url=web_base, java_script_enabled=javascript,
                                      viewport={"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# What a thumb taps outside running text: each at least 44 px high (Apple's guideline; Google's 48 dp is close).
TAP_TARGETS = "header a, header button, a.tag, a.back, a.button, a.tap, main button"
TAP_HEIGHT = 44
# Table cells that must stay whole on a phone (amounts): one line each. Statuses break between words only.
WHOLE_CELLS = "td.amount, th:not(:first-child)"


# The narrowest a table's first column (a title) may get on a phone, beside its amounts and statuses.
TITLE_CELL_WIDTH = 96


def shoot(page, name: str) -> None:
    """Full-page screenshots at phone and desktop width into docs/screenshots/, and the phone layout's promises
    (check_phone_layout)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        if label == "phone":
            _check_layout(page, name, width)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def check_phone_layout(page, name: str) -> None:
    """The phone layout's promises for the page as it is now, without a screenshot: nothing wider than the
    360-px screen (no sideways scrolling), tap targets a thumb can hit, amounts never broken across lines and
    titles in tables left room to be read."""
    width, height = WIDTHS["phone"]
    page.set_viewport_size({"width": width, "height": height})
    _check_layout(page, name, width)
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def _check_layout(page, name: str, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name}: {scroll_width}px wide on a {width}px screen"
    small = page.evaluate("""([selector, least]) => [...document.querySelectorAll(selector)]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < least)
        .map(e => `${e.tagName} "${e.textContent.trim()}" ${Math.round(e.getBoundingClientRect().height)}px`)
    """, [TAP_TARGETS, TAP_HEIGHT - 0.5])
    assert small == [], f"{name}: tap targets under {TAP_HEIGHT}px high on a phone: {small}"
    broken = page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(e => e.getClientRects().length && e.textContent.trim()
                && (() => { const r = document.createRange(); r.selectNodeContents(e);
                            const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                            return tops.size > 1; })())
        .map(e => e.textContent.trim())
    """, WHOLE_CELLS)
    assert broken == [], f"{name}: cells broken across lines on a phone: {broken}"
    squeezed = page.evaluate("""(least) => [...document.querySelectorAll('td:first-child')]
        .filter(e => e.getBoundingClientRect().width < least).map(e => e.textContent.trim())
    """, TITLE_CELL_WIDTH)
    assert squeezed == [], f"{name}: titles squeezed under {TITLE_CELL_WIDTH}px on a phone: {squeezed}"


def sign_in(page, api_key: str) -> None:
    page.goto("/web/signin")
    page.fill("#api_key", api_key)
    page.click("form.card button[type=submit]")
    assert page.locator("#flash").inner_text().startswith("Signed in as")


def on_a_bounty_page(http, new_page, **bounty_fields):
    """A freelancer signed in (no JavaScript), on the page of a fresh bounty: (the bounty, the freelancer, the
    page)."""
    client, freelancer = http.account("client"), http.account("freelancer")
    bounty = http.bounty(client["api_key"], **bounty_fields)
    page = new_page(javascript=False)
    sign_in(page, freelancer["api_key"])
    page.goto(f"/web/bounties/{bounty['id']}")
    return bounty, freelancer, page


class CrossSite:
    """Another origin on this machine serving whatever page a test puts up (an attacker's page)."""

    def __init__(self):
        self.page = "<!doctype html><p>nothing</p>"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                body = outer.page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def cross_site():
    site = CrossSite()
    yield site
    site.server.shutdown()
