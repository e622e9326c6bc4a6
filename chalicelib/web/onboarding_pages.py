"""Where Stripe's hosted onboarding sends the freelancer back to (its return and refresh URLs)."""

from __future__ import annotations

from chalice import Blueprint

from .edge import Ctx, render, view

bp = Blueprint(__name__)


@view("/web/onboarding/complete", blueprint=bp)
def onboarding_complete(ctx: Ctx):
    # Stripe sends the freelancer here whether or not they finished (its return URL), so this page claims nothing.
    return render(ctx, "message.html", title="Back from Stripe",
                  text="If you finished Stripe's form, payouts waiting for you are sent as soon as Stripe confirms "
                       "your account. My work shows whether payouts are set up; if not, start again from there.")


@view("/web/onboarding/refresh", blueprint=bp)
def onboarding_refresh(ctx: Ctx):
    return render(ctx, "message.html", title="This onboarding link has expired",
                  text="Onboarding links work once and only for a short time. Start payout onboarding again from "
                       "My work to get a new one.")
