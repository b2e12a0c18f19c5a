"""KeyStore on real chDB: create/list/revoke, HMAC-only storage, authentication, refresh, fail-closed."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import AuthenticationError
from gateway.keys.store import KeyStore
from gateway.keys.tokens import key_hmac
from gateway.store.client import Store
from schemas.keys import KeyCreateRequest, KeySettings

SECRET = "test-server-secret"


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def test_create_stores_only_the_hmac_and_authenticates(keys_store: Store) -> None:
    keys = KeyStore(keys_store, secret=SECRET, settings=KeySettings())

    async def scenario() -> tuple[str, str]:
        await keys.refresh()
        plaintext, row = await keys.create(KeyCreateRequest(
            team="alpha", name="svc", metadata={"feature": "search"}, default_config="pc-default",
            allowed_models=["gpt-4o*"], budget_usd=0.05, budget_period="day", rpm=10, tpm=1000))
        return plaintext, row.key_id

    plaintext, key_id = asyncio.run(scenario())
    tenant = keys.authenticate(plaintext)
    assert (tenant.key_id, tenant.team, tenant.metadata, tenant.default_config, tenant.allowed_models) == (
        key_id, "alpha", {"feature": "search"}, "pc-default", ("gpt-4o*",))
    stored = keys_store.query("SELECT * FROM {db:Identifier}.virtual_keys", {"db": keys_store.database})
    flat = repr(stored)
    assert plaintext not in flat and plaintext[3:] not in flat
    assert key_hmac(SECRET.encode(), plaintext) in flat
    assert hashlib.sha256(plaintext.encode()).hexdigest() not in flat
    with pytest.raises(AuthenticationError):  # presenting the stored hash is not a credential
        keys.authenticate(key_hmac(SECRET.encode(), plaintext))

    other_replica = KeyStore(keys_store, secret=SECRET, settings=KeySettings())
    assert asyncio.run(other_replica.refresh())
    assert other_replica.authenticate(plaintext).key_id == key_id


def test_list_and_revoke_take_effect_here_at_once_and_elsewhere_on_refresh(keys_store: Store) -> None:
    here = KeyStore(keys_store, secret=SECRET, settings=KeySettings())
    there = KeyStore(keys_store, secret=SECRET, settings=KeySettings())

    async def scenario() -> None:
        await here.refresh()
        first, row = await here.create(KeyCreateRequest(team="alpha", name="one"))
        second, _ = await here.create(KeyCreateRequest(team="beta", name="two"))
        await there.refresh()
        assert there.authenticate(first).team == "alpha"
        listed = await here.list_keys()
        assert [view.name for view in listed] == ["two", "one"]
        assert [view.name for view in await here.list_keys("beta")] == ["two"]
        revoked = await here.revoke(row.key_id)
        assert revoked is not None and revoked.revoked
        with pytest.raises(AuthenticationError):
            here.authenticate(first)
        assert there.authenticate(first).team == "alpha"  # until its next refresh
        await there.refresh()
        with pytest.raises(AuthenticationError):
            there.authenticate(first)
        assert there.authenticate(second).team == "beta"
        assert await here.revoke("key_00000000000") is None
        fetched = await here.get(row.key_id)
        assert fetched is not None and fetched.revoked

    asyncio.run(scenario())


def test_expired_and_unknown_keys_get_the_same_401(keys_store: Store) -> None:
    clock = Clock()
    keys = KeyStore(keys_store, secret=SECRET, settings=KeySettings(), clock=clock)

    async def scenario() -> str:
        await keys.refresh()
        expires = datetime.fromtimestamp(clock.now, UTC) + timedelta(seconds=60)
        plaintext, _ = await keys.create(KeyCreateRequest(team="alpha", expires_at=expires))
        return plaintext

    plaintext = asyncio.run(scenario())
    keys.authenticate(plaintext)
    clock.now += 61
    messages = set()
    for presented in (plaintext, "pc-" + "A" * 43, "' OR 1=1 --", "pc-" + "é" * 43, "x" * 100_000):
        with pytest.raises(AuthenticationError) as rejected:
            keys.authenticate(presented)
        messages.add(rejected.value.message)
    assert len(messages) == 1


def test_fail_closed_cached_keys_work_within_ttl_unknown_never(keys_store: Store) -> None:
    clock = Clock()
    keys = KeyStore(keys_store, secret=SECRET, settings=KeySettings(cache_ttl_s=30), clock=clock)
    writer = KeyStore(keys_store, secret=SECRET, settings=KeySettings())

    async def scenario() -> tuple[str, str]:
        await writer.refresh()
        known, _ = await writer.create(KeyCreateRequest(team="alpha"))
        await keys.refresh()
        created_later, _ = await writer.create(KeyCreateRequest(team="alpha"))
        keys_store.command(f"DROP TABLE {keys_store.database}.virtual_keys")  # the store "goes away"
        assert not await keys.refresh()
        return known, created_later

    known, created_later = asyncio.run(scenario())
    assert keys.refresh_failures == 1
    clock.now += 20
    assert keys.authenticate(known).team == "alpha"  # cached, within TTL
    with pytest.raises(AuthenticationError):
        keys.authenticate(created_later)  # never seen: never accepted
    clock.now += 20
    with pytest.raises(AuthenticationError):
        keys.authenticate(known)  # TTL over: fail closed


def test_nothing_is_accepted_before_the_first_load(keys_store: Store) -> None:
    keys = KeyStore(keys_store, secret=SECRET, settings=KeySettings())
    with pytest.raises(AuthenticationError):
        keys.authenticate("pc-" + "A" * 43)
    with pytest.raises(ValueError):
        KeyStore(keys_store, secret="", settings=KeySettings())
