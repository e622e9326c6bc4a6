"""Sealing small secrets at rest with the standard library: encrypt-then-MAC, with HMAC-SHA256 as the pseudo-random
function of a counter-mode key stream and as the tag. Used for stored idempotent responses, which can hold a
freshly issued API key; the secret comes from configuration, never from the table the sealed text sits in.
(A library such as `cryptography` would do the same, at the price of a compiled dependency in every Lambda.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

PREFIX = "sealed:v1:"
NONCE_BYTES = 16
TAG_BYTES = 32


class Unsealable(ValueError):
    """The text was not sealed with this secret and context, or it was altered."""


def _derive(secret: bytes, purpose: bytes, context: str) -> bytes:
    return hmac.new(secret, purpose + b"\x00" + context.encode(), hashlib.sha256).digest()


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
              for counter in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def seal(secret: bytes, context: str, plaintext: str) -> str:
    data = plaintext.encode()
    nonce = os.urandom(NONCE_BYTES)
    cipher = bytes(a ^ b for a, b in zip(data, _stream(_derive(secret, b"encrypt", context), nonce, len(data)),
                                         strict=True))
    tag = hmac.new(_derive(secret, b"authenticate", context), nonce + cipher, hashlib.sha256).digest()
    return PREFIX + base64.urlsafe_b64encode(nonce + tag + cipher).decode()


def unseal(secret: bytes, context: str, sealed: str) -> str:
    if not sealed.startswith(PREFIX):
        raise Unsealable("not a sealed text")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX):].encode())
    except ValueError as error:
        raise Unsealable("not a sealed text") from error
    nonce, tag, cipher = raw[:NONCE_BYTES], raw[NONCE_BYTES:NONCE_BYTES + TAG_BYTES], raw[NONCE_BYTES + TAG_BYTES:]
    expected = hmac.new(_derive(secret, b"authenticate", context), nonce + cipher, hashlib.sha256).digest()
    if len(nonce) != NONCE_BYTES or not hmac.compare_digest(tag, expected):
        raise Unsealable("the sealed text does not verify")
    stream = _stream(_derive(secret, b"encrypt", context), nonce, len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()
