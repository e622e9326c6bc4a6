"""The web form's edge: a request's session and caller, its form and CSRF check, and how a page is rendered,
redirected or refused. chalicelib.web.pages holds the pages themselves; this module holds what every page shares.
Jinja2 is imported on first render, never at import of app.py (cold starts).
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from .. import config
from ..api.http import unknown_id
from ..bootstrap import deps
from ..core import errors
from ..core.model import FREELANCER
from ..services import accounts
from ..services.deps import Caller, check
from . import fmt, once, session

log = logging.getLogger(__name__)
bp = Blueprint(__name__)

FORM = ("application/x-www-form-urlencoded",)
TEMPLATES = Path(__file__).with_name("templates")
MAX_FORM_BYTES = 256 * 1024
REVOKED = ("You were signed out: you signed out of this session elsewhere, or the API key you signed in with "
           "was revoked.")
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # Defence in depth only: the pages are safe without it because every text is escaped.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# ---- request context, sessions and responses ---------------------------------------------------------

@dataclass
class Ctx:
    request: object
    session: session.Session
    caller: Caller | None = None
    form: dict[str, str] = field(default_factory=dict)
    flash: tuple[str, str] | None = None  # shown on the page rendered now
    flash_cookie: bool = False  # the shown flash came from a cookie, to be cleared
    session_found: bool = True  # the request carried a valid session cookie
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values to send
    outcome: once.Outcome | None = None  # where a form that succeeded leads (see go)

    @property
    def now(self) -> datetime:
        return deps().clock.now()

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params or {})

    def start_session(self, new: session.Session) -> None:
        self.session = new
        self.cookies.append(session.set_cookie(session.cookie_name(session.COOKIE), session.dump(new),
                                               max_age=session.LIFETIME_SECONDS, path=cookie_path()))

    def flash_next(self, text: str, kind: str = "ok") -> None:
        """A message for the page after the redirect."""
        self.cookies.append(session.set_cookie(session.cookie_name(session.FLASH_COOKIE),
                                               session.flash_value(kind, text), max_age=session.FLASH_SECONDS,
                                               path=cookie_path()))

    def go(self, outcome: once.Outcome) -> Response:
        """A form's success: to its outcome's page, saying so there. A form sent again goes the same way
        (chalicelib.web.once)."""
        self.outcome = outcome
        self.flash_next(outcome.flash)
        return redirect(self, outcome.location)


def base_path() -> str:
    """The path the app is served under (e.g. API Gateway's stage, '/api'), from PUBLIC_BASE_URL."""
    return urllib.parse.urlsplit(config.public_base_url()).path.rstrip("/")


def url(path: str, **query) -> str:
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return base_path() + path + ("?" + urllib.parse.urlencode(query) if query else "")


def cookie_path() -> str:
    """Deployed, the whole host's (a __Host- cookie must say Path=/); locally, the pages' own path."""
    return "/" if session.deployed() else base_path() + "/"


def _context(request) -> Ctx:
    cookies = session.parse_cookies(request.headers.get("cookie"))
    now = time.time()
    current = session.load(cookies.get(session.cookie_name(session.COOKIE)), now)
    ctx = Ctx(request=request, session=current or session.new_session(now), session_found=current is not None)
    if current is None:
        # Anonymous, so the sign-in form has a token to carry. Not on a POST: one without our cookie is refused
        # anyway, and a cross-site one (the browser withholds SameSite=Lax cookies) must not replace the session.
        if request.method != "POST":
            ctx.start_session(ctx.session)
    elif current.signed_in and current.role == FREELANCER and current.key_hash:
        # Checked in the page's first read, or on its own before anything is sent (see _run_checked).
        ctx.caller = Caller(account_id=current.account_id, role=current.role, key_id=current.key_id,
                            unchecked_hash=current.key_hash, session_begun=current.begun_at)
    elif current.signed_in:
        caller = Caller(account_id=current.account_id, role=current.role, key_id=current.key_id)
        if caller.role == FREELANCER and _key_is_live(caller):  # a session from before key hashes were kept
            ctx.caller = caller
        else:
            ctx.start_session(session.new_session(now))
            ctx.flash = ("error", REVOKED)
    if ctx.flash is None:
        ctx.flash = session.read_flash(cookies.get(session.cookie_name(session.FLASH_COOKIE)))
        ctx.flash_cookie = ctx.flash is not None
    return ctx


def _key_is_live(caller: Caller) -> bool:
    return any(k.key_id == caller.key_id and not k.revoked for k in accounts.list_keys(deps(), caller))


def _is_form(request) -> bool:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return content_type in FORM


def _parse_form(request) -> dict[str, str]:
    raw = request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise errors.Invalid("What you sent is too large for this form.", code="body_too_large")
    parsed = urllib.parse.parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def render(ctx: Ctx, template: str, *, status: int = 200, error: str | None = None, **values) -> Response:
    flash = ("error", error) if error else ctx.flash
    if ctx.flash_cookie:
        ctx.cookies.append(session.set_cookie(session.cookie_name(session.FLASH_COOKIE), "", max_age=0,
                                              path=cookie_path()))
        ctx.flash_cookie = False
    body = _templates().get_template(template).render(
        ctx=ctx, me=ctx.session if ctx.caller else None, csrf=session.csrf_token(ctx.session), flash=flash,
        now=ctx.now, **values)
    return Response(body=body, status_code=status, headers=dict(PAGE_HEADERS))


@functools.cache
def _templates():
    import jinja2  # here, not at module level: most Lambda invocations never render a page

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(url=url, field=jinja2.pass_context(_field_attributes))
    env.filters.update(money=lambda m: fmt.money(m.amount, m.currency) if m is not None else "—",
                       amount=fmt.money, when=fmt.when, iso=fmt.iso, status=fmt.status, duration=fmt.duration,
                       work_time=fmt.work_time, mean_work_time=fmt.mean_work_time,
                       requirements=fmt.requirements)
    env.globals.update(until=fmt.until, form_key=once.new_key)
    return env


def _field_attributes(context, name: str, hint: str | None = None):
    """A form field's ARIA attributes: described by its hint (the id of the text beside it), and, on a page showing
    that its form was refused, by the refusal's message too (the flash), marked invalid when the message names it.
    `refused` (a page's value): each field of the refused form, True for those the message is about."""
    from markupsafe import Markup

    refused = context.get("refused") or {}
    described = (["flash"] if name in refused and context.get("flash") else []) + ([hint] if hint else [])
    attributes = f' aria-describedby="{" ".join(described)}"' if described else ""
    if refused.get(name):
        attributes += ' aria-invalid="true"'
    return Markup(attributes)


def redirect(ctx: Ctx, location: str) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def _finish(ctx: Ctx | None, response: Response) -> Response:
    if ctx is not None and ctx.cookies:
        response.headers["Set-Cookie"] = list(ctx.cookies)
    return response


_ASCII_VISIBLE = "".join(map(chr, range(0x21, 0x7F)))


def safe_next(target: str | None) -> str:
    """Only our own pages: never an open redirect, nor a dot-segment that leads out of /web/ (the browser would
    resolve `/web/../v1/...` to an API address)."""
    home = url("/web/")
    if not target or "\\" in target or target.startswith("//") or not target.isprintable():
        return home  # not printable: a line break would end the Location header (a 500), a tab hide a host
    path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
    if any(segment in (".", "..") for segment in path.split("/")):
        return home
    rest = target.removeprefix(base_path() + "/web")
    if rest == target or rest[:1] not in ("", "/", "?"):
        return home
    # A Location header is ASCII: other characters (a hand-made link) go percent-encoded, as a browser sends them.
    return urllib.parse.quote(target, safe=_ASCII_VISIBLE)


def view(path: str, *, methods: tuple[str, ...] = ("GET",), signed_in: bool = False, blueprint: Blueprint = bp,
         get_goes_to: Callable[..., str] | None = None, acts_once: once.Answers | None = None):
    """Registers a page. POSTs must carry the session's CSRF token; `signed_in` pages send visitors to sign in.
    A form's address opened as a page (reloaded after a refusal shown there, or typed in) redirects to
    `get_goes_to(**path params)`, the page the form is on, rather than answering a bare 405. `acts_once`: the
    form carries a key, and the same form sent again goes where the first went (chalicelib.web.once)."""

    def decorate(page):
        if acts_once is None:
            handler = page
        else:
            def handler(ctx: Ctx, **params):
                return once.run(ctx, lambda: page(ctx, **params), acts_once)

        @functools.wraps(page)
        def run(**params):
            request = blueprint.current_request
            ctx = None
            try:
                ctx = _context(request)
                back_to = form_page(get_goes_to, params) if get_goes_to is not None else None
                if request.method == "POST":
                    if not _is_form(request):
                        return _finish(ctx, render(ctx, "message.html", status=415, title="Not a form",
                                                   error="This address takes the site's own forms only."))
                    ctx.form = _parse_form(request)
                    if not session.csrf_ok(ctx.session, ctx.form.get("csrf")):
                        return _finish(ctx, _refused(ctx, back_to))
                if signed_in and ctx.caller is None:
                    ctx.flash_next("Sign in with your freelancer API key first.", "error")
                    return _finish(ctx, redirect(ctx, url("/web/signin", next=_here(request))))
                return _finish(ctx, _run_checked(ctx, handler, params, signed_in=signed_in, back_to=back_to))
            except session.NotConfigured:
                log.error("web sessions are not configured: set WEB_SESSION_SECRET(_PARAM)")
                return Response(body="The web form is not configured yet.", status_code=503,
                                headers={"Content-Type": "text/plain; charset=utf-8"})
            except errors.DomainError as error:
                if ctx is None:
                    raise
                return _finish(ctx, render(ctx, "message.html", status=error.status, title=title_for(error),
                                           error=error.message, kept=typed_back(ctx)))
            except Exception:
                log.exception("unhandled error on web page %s %s", request.method, path)
                if ctx is None:
                    raise
                return _finish(ctx, render(ctx, "message.html", status=500, title="Something went wrong",
                                           error="Something went wrong on our side; it was logged. Try again."))

        # Any content type reaches the page, so a wrong one gets a page rather than Chalice's JSON.
        options = {"content_types": ["*/*"]} if "POST" in methods else {}
        blueprint.route(path, methods=list(methods), **options)(run)
        if get_goes_to is not None:
            def form_address_opened(**params):
                return redirect(None, form_page(get_goes_to, params))

            form_address_opened.__name__ = f"{page.__name__}_opened"
            blueprint.route(path, methods=["GET"])(form_address_opened)
        return run

    return decorate


TYPED_FIELDS = (("content", "Your work"), ("links", "Links"), ("body", "Your message"))


def typed_back(ctx: Ctx) -> list[tuple[str, str]]:
    """What the freelancer typed into the form sent, (label, text) for each field not left blank."""
    return [(label, ctx.form[name]) for name, label in TYPED_FIELDS if ctx.form.get(name, "").strip()]


def _refused(ctx: Ctx, back_to: str | None) -> Response:
    """A form without its session's token: from another site, from a page of an earlier session, or sent after
    the session ended. What the freelancer typed is shown back, so it is not lost with the page; signing in
    again leads back to the form's page."""
    kept = typed_back(ctx)
    if not ctx.session_found:
        return render(ctx, "message.html", status=403, title="Session ended", kept=kept, signin_link=True,
                      signin_next=back_to,
                      error="Your session has ended (it lasts 12 hours, and signing out ends it), so this form "
                            "was not sent. Sign in again, then send it once more.")
    return render(ctx, "message.html", status=403, title="Form refused", kept=kept,
                  error="This form was refused: it did not come from this site's current page (it came from "
                        "another site, or from a page shown before you last signed in or out). Go back, reload "
                        "the page and try again.")


def form_page(get_goes_to: Callable[..., str], params: dict[str, str]) -> str:
    """Where a form's address opened as a page goes: the page of the form, its ids quoted whole, so one holding a
    '../' (API Gateway hands path parameters over decoded) cannot lead the redirect out of that page."""
    return url(get_goes_to(**{name: urllib.parse.quote(value, safe="") for name, value in params.items()}))


def _run_checked(ctx: Ctx, handler, params: dict, *, signed_in: bool, back_to: str | None) -> Response:
    """Runs a page for a caller whose key rides along the page's first read; a page whose calls could not carry
    it checks it on its own before anything is sent, as the API does. A revoked key signs the visitor out: a
    page open to all is shown to them signed out, anything else sends them to sign in again (and then back to
    the page, or to the form's page), a form with text typed into it by way of a page that shows the text back."""
    caller = ctx.caller
    try:
        try:
            response = _shown(ctx, handler, params)
        except errors.DomainError as error:
            if ctx.caller is not None and not isinstance(error, errors.Unauthenticated):
                check(deps(), ctx.caller)  # a refusal is shown only to a valid key
            raise
        if ctx.caller is not None:  # None once the page signed them out
            check(deps(), ctx.caller)
        return response
    except errors.Unauthenticated:
        if caller is None:
            raise
    ctx.cookies.clear()  # nothing the refused attempt meant to set
    ctx.caller = None
    ctx.start_session(session.new_session(time.time()))
    posted = ctx.request.method == "POST"
    if posted and typed_back(ctx):
        return render(ctx, "message.html", status=401, title="Signed out", kept=typed_back(ctx), signin_link=True,
                      signin_next=back_to, error=REVOKED + " What you wrote was not sent.")
    if signed_in or posted:
        ctx.flash_next(REVOKED, "error")
        return redirect(ctx, url("/web/signin", next=back_to if posted else _here(ctx.request)))
    ctx.flash = ("error", REVOKED)
    return _shown(ctx, handler, params)


def _shown(ctx: Ctx, handler, params: dict) -> Response:
    """The page, for ids that can name something: as the API, a longer one is a 404 (after the key is checked, by
    the caller), never a read DynamoDB refuses (a 500). Also for the page shown again to a visitor signed out."""
    if (unknown := unknown_id(params)) is not None:
        raise unknown
    return handler(ctx, **params)


def _here(request) -> str:
    """Where a GET came to (for after sign-in); a POST goes back to the list."""
    if request.method != "GET":
        return url("/web/")
    path = request.path  # the route's template: fill its parameters in
    for name, value in (request.uri_params or {}).items():
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    query = urllib.parse.urlencode(request.query_params or {})
    return url(path) + ("?" + query if query else "")


def title_for(error: errors.DomainError) -> str:
    return {404: "Not found", 401: "Please sign in", 403: "Not allowed"}.get(error.status, "That did not work")


def validate(model: type[BaseModel], data: dict, labels: dict[str, str],
             lines: dict[str, list[int]] | None = None) -> BaseModel:
    """The API's own request shapes check the form too, so both enforce the same limits (docs/LIMITS.md).
    `lines`: for a list typed one item per line (blank lines left out), the line each item was on."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise errors.Invalid(" ".join(_explain(item, labels, lines or {}) for item in error.errors()[:3])) from error


def _explain(item: dict, labels: dict[str, str], lines: dict[str, list[int]]) -> str:
    loc = item["loc"]
    label = labels.get(str(loc[0]), str(loc[0])) if loc else "The form"
    if len(loc) > 1 and isinstance(loc[1], int):
        numbers = lines.get(str(loc[0]))
        loc = (loc[0], numbers[loc[1]] - 1 if numbers and loc[1] < len(numbers) else loc[1], *loc[2:])
    limit = (item.get("ctx") or {}).get("max_length")
    kind = item["type"]
    if kind in ("missing", "string_too_short"):
        return f"{label} cannot be empty."
    if kind == "string_too_long":
        if len(loc) > 1:  # one of the links, one per line
            return f"{label}: line {int(loc[1]) + 1} is too long: at most {limit:,} characters."
        return f"{label} is too long: at most {limit:,} characters."
    if kind == "too_long":
        return f"{label}: at most {limit} of them."
    if kind == "string_pattern_mismatch" and len(loc) > 1:
        return f"{label}: line {int(loc[1]) + 1} is not a full http:// or https:// address."
    if kind == "value_error":  # our own checks (api/text.py): their sentence without pydantic's prefix
        return f"{label} {item['ctx']['error']}."
    return f"{label}: {item['msg']}."
