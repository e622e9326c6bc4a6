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
    sealed = seal(SECRET, "c", "a longer text spanning more than one key-stream block of thirty-two bytes")
    for position in (len("sealed:v1:") + 2, len(sealed) - 3):
        altered = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1:]
        with pytest.raises(Unsealable):
            unseal(SECRET, "c", altered)
    with pytest.raises(Unsealable):
        unseal(SECRET, "c", "plain text")
