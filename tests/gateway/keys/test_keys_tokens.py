"""Key material: format, entropy, HMAC storage form, constant-time comparison, prefix."""

from __future__ import annotations

import hashlib
import hmac

from gateway.keys.tokens import (
    base62,
    generate_key,
    generate_key_id,
    key_hmac,
    key_prefix,
    looks_like_key,
    same_digest,
)


def test_keys_are_prefixed_base62_of_256_bits_and_unique() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("pc-") and len(key) == 46
        assert looks_like_key(key)
    assert 62 ** 43 > 2 ** 256  # 43 base62 digits hold 256 bits


def test_base62_is_left_padded_and_bijective_for_fixed_width() -> None:
    assert base62(b"\x00" * 32, 43) == "0" * 43
    assert base62(b"\xff" * 32, 43) != base62(b"\xfe" + b"\xff" * 31, 43)
    assert len(base62(b"\xff" * 32, 43)) == 43


def test_hmac_is_keyed_sha256_hex_and_not_a_plain_hash() -> None:
    key = generate_key()
    digest = key_hmac(b"server-secret", key)
    assert digest == hmac.new(b"server-secret", key.encode(), hashlib.sha256).hexdigest()
    assert digest != hashlib.sha256(key.encode()).hexdigest()
    assert digest != key_hmac(b"other-secret", key)
    assert key not in digest


def test_same_digest_compares_whole_values() -> None:
    digest = key_hmac(b"s", "pc-x")
    assert same_digest(digest, digest)
    assert not same_digest(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))


def test_prefix_and_id_reveal_little() -> None:
    key = generate_key()
    assert key_prefix(key) == key[3:11]
    key_id = generate_key_id()
    assert key_id.startswith("key_") and len(key_id) == 15
    assert key_prefix(key) not in key_id


def test_shape_check_rejects_hostile_values() -> None:
    for value in ["", "pc-", "' OR 1=1 --", "pc-" + "a" * 42 + "'", "pc-" + "é" * 43, "pc-" + "a" * 5000,
                  "sk-" + "a" * 43, "pc-" + "a" * 43 + "\n", key_hmac(b"s", "pc-x")]:
        assert not looks_like_key(value)
