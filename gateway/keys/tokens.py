"""Key material: random `pc-` keys (256 bits, base62), public ids, and their HMAC-SHA256 under the server secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "pc-"
KEY_BYTES = 32  # 256 bits of entropy
PREFIX_CHARS = 8  # shown in listings: the first 8 characters after `pc-`
MAX_PRESENTED_CHARS = 128  # anything longer is not one of our keys; rejected before hashing
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(_BASE62)
_KEY_BODY_CHARS = 43  # ceil(256 / log2(62)); shorter encodings are left-padded with "0"


def base62(data: bytes, width: int) -> str:
    """Big-endian base62 of `data`, left-padded to `width` characters."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def generate_key() -> str:
    """A new plaintext key: `pc-` + 43 base62 characters from 32 bytes of `secrets.token_bytes`."""
    return KEY_PREFIX + base62(secrets.token_bytes(KEY_BYTES), _KEY_BODY_CHARS)


def generate_key_id() -> str:
    """A short public id for a key (independent of the secret, so it reveals nothing about it)."""
    return "key_" + base62(secrets.token_bytes(8), 11)


def key_prefix(plaintext: str) -> str:
    """The first 8 characters after `pc-`, safe to display."""
    return plaintext[len(KEY_PREFIX):len(KEY_PREFIX) + PREFIX_CHARS]


def looks_like_key(presented: str) -> bool:
    """Cheap shape check before hashing: `pc-` + 43 base62 characters, nothing else."""
    if len(presented) != len(KEY_PREFIX) + _KEY_BODY_CHARS or not presented.startswith(KEY_PREFIX):
        return False
    return all(char in _BASE62_SET for char in presented[len(KEY_PREFIX):])


def key_hmac(secret: bytes, plaintext: str) -> str:
    """HMAC-SHA256(server secret, key) as lowercase hex: the only form in which a key is ever stored."""
    return hmac.new(secret, plaintext.encode("utf-8"), hashlib.sha256).hexdigest()


def same_digest(stored: str, computed: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(stored.encode("ascii"), computed.encode("ascii"))
