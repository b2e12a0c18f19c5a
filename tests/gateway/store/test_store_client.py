"""Store: config strictness, async wrappers, http DSN without a server (only failure paths can run here)."""

from __future__ import annotations

import socket
import time

import anyio
import msgspec
import pytest

from gateway.store.client import Store, StoreConfig


def test_store_config_is_strict_and_frozen() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"dsn": "chdb://x", "bogus": 1}, StoreConfig)
    config = msgspec.convert({"dsn": "http://127.0.0.1:8123", "cluster": "main"}, StoreConfig)
    assert config.cluster == "main" and config.spool_max_bytes == 1 << 30
    with pytest.raises(AttributeError):
        config.dsn = "other"  # type: ignore[misc]


def test_store_async_wrappers_run_off_the_loop(store: Store) -> None:
    async def main() -> tuple[bool, list[tuple[object, ...]]]:
        return await store.ping_async(), await store.query_async("SELECT {x:String}", {"x": "hi"})

    assert anyio.run(main) == (True, [("hi",)])


def test_store_ping_false_after_close(store_config: StoreConfig) -> None:
    opened = Store.connect(store_config)
    assert opened.ping()
    opened.close()
    assert opened.ping() is False


def test_store_http_dsn_to_a_closed_port_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)connect|refused|error"):
        Store.connect(StoreConfig(dsn=f"http://127.0.0.1:{port}", database="x"))
    assert time.monotonic() - began < 30
