"""The Chalice app: wires HTTP routes and event handlers to the core. Nothing else lives here."""

import logging

from chalice import Chalice

from chalicelib import config, observability
from chalicelib.api import openapi, routes_accounts, routes_bounties, routes_webhooks, routes_work
from chalicelib.api.http import method_guards
from chalicelib.web import onboarding_pages, pages
from chalicelib.workers import queues

app = Chalice(app_name="bounty-board")
access_log = logging.getLogger("bounty.access")
observability.setup_logging()

for blueprint in (routes_accounts.bp, routes_bounties.bp, routes_work.bp, routes_webhooks.bp, openapi.bp,
                  onboarding_pages.bp, pages.bp, queues.bp):
    app.register_blueprint(blueprint)
app.register_blueprint(method_guards())  # after every route: it answers the methods they lack


@app.middleware("http")
def log_context(event, get_response):
    params = event.uri_params or {}
    observability.bind(request_id=event.context.get("requestId"), path=event.path, method=event.method,
                       bounty_id=params.get("bounty_id"))
    try:
        with config.serving(event.context or {}):
            response = get_response(event)
        access_log.info("%s %s -> %s", event.method, event.path, response.status_code)
        return response
    finally:
        observability.unbind()
