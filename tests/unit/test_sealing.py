import pytest

from chalicelib.core.sealing import Unsealable, seal, unseal

SECRET = b"pepper"


def test_round_trip_hides_the_text_and_differs_each_time():
    text = '{"api_key": "bk_secret_value_123"}'
    first, second = seal(SECRET, "acct#key", text), seal(SECRET, "acct#key", text)
    assert first != second and "bk_secret" not in first
    assert unseal(SECRET, "acct#key", first) == unseal(SECRET, "acct#key", second) == text
    assert unseal(SECRET, "c", seal(SECRET, "c", "")) == ""


@pytest.mark.parametrize("secret, context", [(b"other", "acct#key"), (SECRET, "acct#other")])
def test_another_secret_or_context_cannot_open_it(secret, context):
    with pytest.raises(Unsealable):
        unseal(secret, context, seal(SECRET, "acct#key", "x" * 100))


def test_any_altered_byte_is_detected():
    import base64

    sealed = seal(SECRET, "c", "a longer text spanning more than one key-stream block of thirty-two bytes")
    raw = bytearray(base64.urlsafe_b64decode(sealed[len("sealed:v1:"):]))
    for position in (0, 20, len(raw) - 1):  # the nonce, the tag, the cipher text
        altered = bytearray(raw)
        altered[position] ^= 0x01
        with pytest.raises(Unsealable):
            unseal(SECRET, "c", "sealed:v1:" + base64.urlsafe_b64encode(bytes(altered)).decode())
    with pytest.raises(Unsealable):
        unseal(SECRET, "c", "plain text")


def test_anonymous_idempotency_keys_are_scoped_by_address():
    from types import SimpleNamespace

    from chalicelib.api.idempotency import scope
    from chalicelib.services.deps import Caller

    def request(ip):
        return SimpleNamespace(context={"identity": {"sourceIp": ip}})

    assert scope(None, request("203.0.113.7")) != scope(None, request("198.51.100.9"))
    assert scope(None, request("203.0.113.7")) == scope(None, request("203.0.113.7"))
    owner = Caller(account_id="acct_1", role="client", key_id="k")
    assert scope(owner, request("203.0.113.7")) == scope(owner, request("198.51.100.9")) == "acct_1"
