"""Where Stripe's hosted onboarding sends the freelancer back to."""

from __future__ import annotations

from chalice import Blueprint, Response

bp = Blueprint(__name__)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem">
<h1>{title}</h1><p>{text}</p><p><a href="/web/">Back to bounties</a></p></body></html>"""


def _html(title: str, text: str) -> Response:
    return Response(body=_PAGE.format(title=title, text=text), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8"})


@bp.route("/web/onboarding/complete", methods=["GET"])
def onboarding_complete():
    return _html("Payout details received",
                 "Stripe has your details. Payouts waiting for you are sent as soon as Stripe confirms your account.")


@bp.route("/web/onboarding/refresh", methods=["GET"])
def onboarding_refresh():
    return _html("This onboarding link has expired",
                 "Onboarding links work once and only for a short time. "
                 "Start payout onboarding again to get a new one.")
