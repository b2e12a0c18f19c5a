"""ClickHouse access from one DSN (embedded chdb:// or http(s):// server): connect, migrate, query, insert."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import clickhouse_connect
import msgspec
from clickhouse_connect.driver.client import Client

from gateway.store.migrations import MigrationSettings, apply_migrations
from schemas.settings import StoreSettings

# The store's config is the `store:` section of the server config file (one definition, in schemas).
StoreConfig = StoreSettings


class ParsedDsn(msgspec.Struct, kw_only=True, frozen=True):
    """A DSN split into what clickhouse-connect needs; `chdb_path` is None for memory or for http(s)."""

    interface: str  # "chdb" | "http" | "https"
    chdb_path: str | None = None
    url: str = ""


def parse_dsn(dsn: str) -> ParsedDsn:
    """chdb://<path> (relative or absolute, `chdb://memory` for in-memory) or http(s)://user:pw@host:port."""
    if dsn.startswith("chdb://"):
        location = dsn[len("chdb://"):].split("?", 1)[0]
        if location in ("", "memory", ":memory:"):
            return ParsedDsn(interface="chdb")
        return ParsedDsn(interface="chdb", chdb_path=os.path.abspath(location))
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("store DSN must be chdb://<path> or http(s)://host[:port]")
    return ParsedDsn(interface=parts.scheme, url=dsn)


class Store:
    """One ClickHouse client shared by the writer thread and read paths; safe to call from any thread.

    Blocking: call the plain methods from a worker thread, or the `*_async` wrappers from the event loop.
    """

    def __init__(self, client: Client, config: StoreConfig) -> None:
        self._client = client
        self.config = config
        self.database = config.database
        self._closed = threading.Event()

    @classmethod
    def connect(cls, config: StoreConfig) -> Store:
        """Open the client (~1 s for chDB) and create the database if missing."""
        parsed = parse_dsn(config.dsn)
        if parsed.interface == "chdb":
            if parsed.chdb_path is not None:
                os.makedirs(parsed.chdb_path, exist_ok=True)
            client = clickhouse_connect.get_client(interface="chdb", path=parsed.chdb_path)
        else:
            # No session id: a session forbids concurrent queries, and several threads use this client.
            client = clickhouse_connect.get_client(dsn=parsed.url, autogenerate_session_id=False)
        client.command(f"CREATE DATABASE IF NOT EXISTS {_identifier(config.database)}")
        client.database = config.database
        return cls(client, config)

    @classmethod
    async def connect_async(cls, config: StoreConfig) -> Store:
        """`connect` in a worker thread."""
        return await anyio.to_thread.run_sync(cls.connect, config)

    def migration_settings(self) -> MigrationSettings:
        """Template values for the migrations, from the store config."""
        return MigrationSettings(database=self.config.database, cluster=self.config.cluster,
                                 body_ttl_days=self.config.body_ttl_days, row_ttl_days=self.config.row_ttl_days)

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied by this call."""
        return apply_migrations(self, self.migration_settings())

    def command(self, sql: str) -> None:
        """Run a DDL statement (migrations only; never built from user input)."""
        self._client.command(sql)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a parameterised read query (`{name:Type}` placeholders) and return its rows."""
        result = self._client.query(sql, parameters=parameters or {})
        return [tuple(row) for row in result.result_rows]

    def query_columns(self, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str],
                                                                                        list[tuple[Any, ...]]]:
        """Like `query`, also returning the column names."""
        result = self._client.query(sql, parameters=parameters or {})
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str],
               dedup_token: str | None = None) -> None:
        """Insert one batch as one block; with `dedup_token` a repeated insert of the same batch is a no-op."""
        settings: dict[str, Any] = {}
        if dedup_token is not None:
            settings["insert_deduplication_token"] = dedup_token
        self._client.insert(table, list(rows), column_names=list(column_names), database=self.database,
                            settings=settings)

    def ping(self) -> bool:
        """True when ClickHouse answers a trivial query."""
        if self._closed.is_set():
            return False
        try:
            return self._client.query("SELECT 1").result_rows == [(1,)]
        except Exception:
            return False

    async def ping_async(self) -> bool:
        """`ping` in a worker thread (for /readyz)."""
        return await anyio.to_thread.run_sync(self.ping)

    async def query_async(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """`query` in a worker thread (for the UI and the admin API)."""
        return await anyio.to_thread.run_sync(self.query, sql, parameters)

    def close(self) -> None:
        """Close the client (chDB keeps its engine for the process; the path stays locked until exit)."""
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum() or name[0].isdigit():
        raise ValueError(f"invalid database name: {name!r}")
    return name
