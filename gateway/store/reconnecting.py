"""A store handle that connects (and migrates) on first use and after failures, so the gateway serves while
ClickHouse is down: the writer's spool absorbs the rows and drains them once the server answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread

from gateway.store.client import Store
from schemas.settings import StoreSettings

log = logging.getLogger("portcullis.store")


class StoreUnavailable(ConnectionError):
    """ClickHouse could not be reached (the caller retries later)."""


class ReconnectingStore:
    """Thread-safe lazy connection to the store; every method either reaches ClickHouse or raises/returns False."""

    def __init__(self, config: StoreSettings, *, connect: Callable[[StoreSettings], Store] = Store.connect,
                 retry_interval_s: float = 2.0) -> None:
        self.config = config
        self.database = config.database
        self._connect = connect
        self._retry_interval_s = retry_interval_s
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._last_attempt = float("-inf")
        self._last_error = ""

    @property
    def connected(self) -> bool:
        """Whether a connection exists (it may still have gone away since)."""
        return self._store is not None

    @property
    def last_error(self) -> str:
        """Why the last connection attempt failed ('' when it did not)."""
        return self._last_error

    def _get(self) -> Store:
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is not None:
                return self._store
            now = time.monotonic()
            if now - self._last_attempt < self._retry_interval_s:
                raise StoreUnavailable(f"ClickHouse unreachable: {self._last_error}")
            self._last_attempt = now
            try:
                store = self._connect(self.config)
                store.migrate()
            except Exception as exc:
                self._last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.warning("ClickHouse is not reachable yet (%s); logs stay in the spool", self._last_error)
                raise StoreUnavailable(f"ClickHouse unreachable: {self._last_error}") from exc
            self._store, self._last_error = store, ""
            return store

    def connect_now(self) -> bool:
        """Try to connect and migrate now (start-up); False when the server is not there yet."""
        try:
            self._get()
        except StoreUnavailable:
            return False
        return True

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str],
               dedup_token: str | None = None) -> None:
        """Insert through the live connection (raises StoreUnavailable when there is none)."""
        self._get().insert(table, rows, column_names, dedup_token)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """A parameterised read."""
        return self._get().query(sql, parameters)

    def query_columns(self, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str],
                                                                                        list[tuple[Any, ...]]]:
        """A parameterised read with column names."""
        return self._get().query_columns(sql, parameters)

    async def query_async(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """`query` in a worker thread."""
        return await anyio.to_thread.run_sync(self.query, sql, parameters)

    def ping(self) -> bool:
        """True when ClickHouse answers now."""
        try:
            return self._get().ping()
        except StoreUnavailable:
            return False

    async def ping_async(self) -> bool:
        """`ping` in a worker thread (for /readyz)."""
        return await anyio.to_thread.run_sync(self.ping)

    def close(self) -> None:
        """Close the connection if one was made."""
        if self._store is not None:
            self._store.close()
