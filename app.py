"""The Chalice app: wires HTTP routes and event handlers to the core. Nothing else lives here."""

from chalice import Chalice

from chalicelib.api import openapi, routes_accounts, routes_bounties, routes_webhooks, routes_work

app = Chalice(app_name="bounty-board")

for blueprint in (routes_accounts.bp, routes_bounties.bp, routes_work.bp, routes_webhooks.bp, openapi.bp):
    app.register_blueprint(blueprint)
