"""The web form's session cookie and CSRF tokens: signed, expiring, bound to the session; Secure when deployed."""

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.web import session

NOW = 1_800_000_000


def test_a_session_survives_the_round_trip_and_nothing_else_does():
    signed_in = session.new_session(NOW, account_id="acct_1", role="freelancer", key_id="key_1", name="Ada")
    value = session.dump(signed_in)
    assert session.load(value, NOW + 60) == signed_in
    body, mac = value.split(".")
    assert session.load(f"{body}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}", NOW) is None
    assert session.load(f"{body[:-2]}AA.{mac}", NOW) is None
    assert session.load(None, NOW) is None and session.load("garbage", NOW) is None
    # A value signed for another purpose (the flash cookie) is not a session.
    assert session.load(session.flash_value("ok", "hello"), NOW) is None


def test_a_session_expires():
    value = session.dump(session.new_session(NOW))
    assert session.load(value, NOW + session.LIFETIME_SECONDS - 1) is not None
    assert session.load(value, NOW + session.LIFETIME_SECONDS) is None


def test_csrf_tokens_are_bound_to_their_session():
    first, second = session.new_session(NOW), session.new_session(NOW)
    token = session.csrf_token(first)
    assert session.csrf_ok(first, token)
    assert not session.csrf_ok(second, token)
    assert not session.csrf_ok(first, "")
    assert not session.csrf_ok(first, None)
    assert not session.csrf_ok(None, token)


def test_another_secret_makes_every_cookie_and_token_invalid(monkeypatch):
    current = session.new_session(NOW)
    value, token = session.dump(current), session.csrf_token(current)
    monkeypatch.setenv("WEB_SESSION_SECRET", "rotated")
    assert session.load(value, NOW) is None
    assert not session.csrf_ok(current, token)


def test_cookie_flags_locally_and_when_deployed(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    local = session.set_cookie("bb_session", "v", max_age=60)
    assert "HttpOnly" in local and "SameSite=Lax" in local and "Secure" not in local
    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.setenv("WEB_SESSION_SECRET", "a-real-secret")
    deployed = session.set_cookie("bb_session", "v", max_age=60, path="/api/")
    assert deployed.split("; ") == ["bb_session=v", "Path=/api/", "Max-Age=60", "HttpOnly", "SameSite=Lax", "Secure"]


def test_a_deployed_stage_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("WEB_SESSION_SECRET", raising=False)
    monkeypatch.delenv("WEB_SESSION_SECRET_PARAM", raising=False)
    with pytest.raises(session.NotConfigured):
        session.dump(session.new_session(NOW))


def test_cookie_header_parsing():
    assert session.parse_cookies('a=1; bb_session="x.y"; junk; b=') == {"a": "1", "bb_session": "x.y", "b": ""}
    assert session.parse_cookies(None) == {}


def test_flash_messages_are_signed():
    assert session.read_flash(session.flash_value("error", "No slots left.")) == ("error", "No slots left.")
    assert session.read_flash("eyJraW5kIjoib2siLCJ0ZXh0IjoiaGkifQ.00") is None


def test_importing_the_app_does_not_import_jinja2():
    """Cold starts: only requests that render a page pay for the template engine."""
    root = Path(__file__).resolve().parents[2]
    code = "import sys, app; assert 'jinja2' not in sys.modules, 'jinja2 imported'; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("stage", session.LOCAL_STAGES)
def test_a_stage_named_like_the_local_stack_is_still_deployed_on_lambda(monkeypatch, stage):
    """Deployed as `test` (a likely stage name), the cookie lacked Secure and the development secret was taken."""
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"bounty-board-{stage}")
    monkeypatch.delenv("WEB_SESSION_SECRET", raising=False)
    monkeypatch.delenv("WEB_SESSION_SECRET_PARAM", raising=False)
    with pytest.raises(session.NotConfigured):
        session.dump(session.new_session(NOW))
    monkeypatch.setenv("WEB_SESSION_SECRET", "a-real-secret")
    assert session.set_cookie("bb_session", "v", max_age=60).endswith("; Secure")
