"""The web form's small rules: links under PUBLIC_BASE_URL's path, no open redirect after sign-in, and the API's
request models giving form-friendly messages."""

import pytest

from chalicelib.api import schemas
from chalicelib.core import errors
from chalicelib.web import edge


@pytest.fixture
def behind_stage(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://abc.execute-api.us-east-1.amazonaws.com/api/")


def test_links_live_under_the_public_base_path(behind_stage):
    assert edge.url("/web/") == "/api/web/"
    assert edge.url("/web/", tag="a b", min_reward="", cursor=None) == "/api/web/?tag=a+b"
    assert edge.cookie_path() == "/api/"


def test_links_at_the_root_locally(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    assert edge.url("/web/me") == "/web/me"
    assert edge.cookie_path() == "/"


@pytest.mark.parametrize("target, expected", [
    ("/api/web/me", "/api/web/me"),
    ("/api/web", "/api/web"),
    ("/api/web?tag=x", "/api/web?tag=x"),
    ("/api/web/bounties/bty_1", "/api/web/bounties/bty_1"),
    ("/api/website", "/api/web/"),
    ("/web/me", "/api/web/"),
    ("https://evil.example/api/web/", "/api/web/"),
    ("//evil.example/api/web/", "/api/web/"),
    ("/api/web/\\\\evil.example", "/api/web/"),
    ("", "/api/web/"),
    (None, "/api/web/"),
    ("/api/web/\r\nSet-Cookie: x=1", "/api/web/"),  # a line break would end the Location header: was a 500
    ("/api/web/\tme", "/api/web/"),
    ("/api/web/%0d%0ax", "/api/web/%0d%0ax"),  # still encoded: harmless in a header
])
def test_after_sign_in_only_our_own_pages(behind_stage, target, expected):
    assert edge.safe_next(target) == expected


LABELS = {"content": "Your work", "links": "Links"}


@pytest.mark.parametrize("data, message", [
    ({"content": "   ", "links": []}, "Your work cannot be empty."),
    ({"content": "x" * (schemas.MAX_CONTENT + 1), "links": []}, "Your work is too long: at most 20,000 characters."),
    ({"content": "\u200b \u200b", "links": []}, "Your work must contain at least one visible character."),
    ({"content": "done\x00", "links": []}, "Your work must not contain the control character U+0000."),
    ({"content": "ok", "links": ["https://a.example"] * (schemas.MAX_LINKS + 1)}, "Links: at most 10 of them."),
    ({"content": "ok", "links": ["https://a.example", "ftp://b.example"]},
     "Links: line 2 is not a full http:// or https:// address."),
    ({"content": "ok", "links": ["https://a.example", "https://b.example/" + "x" * 2100]},
     "Links: line 2 is too long: at most 2,048 characters."),
])
def test_form_input_is_checked_by_the_api_models_with_plain_messages(data, message):
    with pytest.raises(errors.Invalid) as refused:
        edge.validate(schemas.SubmitWork, data, LABELS)
    assert refused.value.message == message


def test_a_bad_link_is_named_by_the_line_it_was_typed_on_blank_lines_counted():
    with pytest.raises(errors.Invalid) as refused:
        edge.validate(schemas.SubmitWork, {"content": "ok", "links": ["https://a.example", "ftp://b.example"]},
                      LABELS, lines={"links": [1, 4]})
    assert refused.value.message == "Links: line 4 is not a full http:// or https:// address."


def test_valid_form_input_passes_through_the_same_models():
    body = edge.validate(schemas.SubmitWork, {"content": "  done  ", "links": ["https://a.example/x"]}, LABELS)
    assert (body.content, body.links) == ("done", ["https://a.example/x"])
    typed = edge.validate(schemas.SubmitWork, {"content": "line one\r\n\tline two", "links": []}, LABELS)
    assert typed.content == "line one\r\n\tline two"  # a textarea's line breaks and tabs are kept


def _asking_with(cookie_header: str):
    from types import SimpleNamespace

    return SimpleNamespace(headers={"cookie": cookie_header}, method="GET", query_params={})


def test_deployed_the_session_cookie_is_one_no_other_host_can_plant(behind_stage, monkeypatch):
    """A sibling domain (another subdomain of a custom domain, a shared parent) can set a `bb_session` for this host:
    its owner's own signed-in session, read before ours (a longer Path comes first), so the victim's work went to
    the attacker's account. Deployed, the cookie carries the __Host- prefix, which browsers take only from this host
    (Secure, Path=/, no Domain)."""
    import time

    from chalicelib.web import session

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("WEB_SESSION_SECRET", "a-real-secret")
    attackers = session.dump(session.new_session(time.time(), account_id="acct_0a", role="freelancer",
                                                 key_id="key_1", name="Mallory", key_hash="0" * 64))
    planted = edge._context(_asking_with(f"bb_session={attackers}"))
    assert planted.caller is None and not planted.session_found
    [anonymous] = planted.cookies
    assert anonymous.startswith("__Host-bb_session=") and "; Path=/;" in anonymous and anonymous.endswith("; Secure")
    own = edge._context(_asking_with(f"__Host-bb_session={attackers}"))
    assert own.caller is not None and own.caller.account_id == "acct_0a"
