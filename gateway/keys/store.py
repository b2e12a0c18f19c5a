"""KeyStore: virtual keys in ClickHouse `virtual_keys`, served from an in-memory map refreshed every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio.to_thread
import msgspec

from gateway.auth import Tenant
from gateway.errors import AuthenticationError
from gateway.keys.tokens import generate_key, generate_key_id, key_hmac, key_prefix, looks_like_key, same_digest
from schemas.keys import KeyCreateRequest, KeySettings, KeyView, VirtualKeyRow

log = logging.getLogger("portcullis.keys")

TABLE = "virtual_keys"
COLUMNS = (
    "key_id", "prefix", "hmac", "name", "team", "metadata", "default_config", "allowed_models", "allowed_configs",
    "budget_usd_nano", "budget_period", "rpm", "tpm", "log_policy", "expires_at", "revoked", "created_at", "version",
)
_SELECT = (
    "SELECT " + ", ".join(COLUMNS) + " FROM {db:Identifier}.virtual_keys FINAL"
)
_REJECTED = "invalid, expired or revoked API key"
NANO_PER_USD = 1_000_000_000


class KeyTable(Protocol):
    """The part of gateway.store.client.Store the key store uses (blocking; called from worker threads)."""

    database: str

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def insert(self, table: str, rows: Any, column_names: Any, dedup_token: str | None = None) -> None: ...


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_from_db(values: tuple[Any, ...]) -> VirtualKeyRow:
    """One result row (in COLUMNS order) as a VirtualKeyRow."""
    data = dict(zip(COLUMNS, values, strict=True))
    data["metadata"] = dict(data["metadata"] or {})
    data["allowed_models"] = list(data["allowed_models"] or [])
    data["allowed_configs"] = list(data["allowed_configs"] or [])
    data["expires_at"] = _utc(data["expires_at"])
    data["created_at"] = _utc(data["created_at"])
    data["revoked"] = bool(data["revoked"])
    return VirtualKeyRow(**data)


def row_to_db(row: VirtualKeyRow) -> list[Any]:
    """A VirtualKeyRow as insert values in COLUMNS order."""
    return [getattr(row, column) for column in COLUMNS]


def key_view(row: VirtualKeyRow) -> KeyView:
    """The public view of a key: never the plaintext or the HMAC."""
    return KeyView(
        key_id=row.key_id, prefix=row.prefix, name=row.name, team=row.team, metadata=dict(row.metadata),
        default_config=row.default_config or None, allowed_models=list(row.allowed_models),
        allowed_configs=list(row.allowed_configs),
        budget_usd=None if row.budget_usd_nano is None else row.budget_usd_nano / NANO_PER_USD,
        budget_period=row.budget_period, rpm=row.rpm, tpm=row.tpm, log_policy=row.log_policy or None,
        expires_at=row.expires_at, revoked=row.revoked, created_at=row.created_at,
    )


def tenant_of(row: VirtualKeyRow) -> Tenant:
    """What a key fixes for every request made with it."""
    return Tenant(
        key_id=row.key_id, key_name=row.name, team=row.team, metadata=dict(row.metadata),
        default_config=row.default_config or None, allowed_models=tuple(row.allowed_models),
        allowed_configs=tuple(row.allowed_configs), log_policy=row.log_policy or None,
    )


class _Entry:
    """A loaded, usable key: its row, its prebuilt tenant and its expiry as a unix time."""

    __slots__ = ("expires", "row", "tenant")

    def __init__(self, row: VirtualKeyRow) -> None:
        self.row = row
        self.tenant = tenant_of(row)
        self.expires = row.expires_at.timestamp() if row.expires_at is not None else None


class KeyStore:
    """Authenticates `pc-` keys from memory (no I/O per request) and manages them in ClickHouse.

    Fail-closed: when a refresh fails the last loaded map keeps serving for `cache_ttl_s`; after that every
    key is rejected. A key not in the map (unknown, revoked, expired) is always rejected with the same message.
    """

    def __init__(self, table: KeyTable, *, secret: str, settings: KeySettings,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("virtual keys need the server secret (settings.secret, e.g. env:PORTCULLIS_SECRET)")
        self._table = table
        self._secret = secret.encode("utf-8")
        self._settings = settings
        self._clock = clock
        self._by_hmac: dict[str, _Entry] = {}
        self._rows: dict[str, VirtualKeyRow] = {}
        self._written: dict[str, VirtualKeyRow] = {}  # local writes a refresh may not have seen yet
        self._loaded_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.refresh_failures = 0

    # ---- request path (synchronous, no I/O) ---------------------------------------------------------------
    def authenticate(self, presented: str) -> Tenant:
        """The tenant of a valid key; AuthenticationError (401, same message for every reason) otherwise."""
        if not looks_like_key(presented):
            raise AuthenticationError(_REJECTED)
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at > self._settings.cache_ttl_s:
            raise AuthenticationError(_REJECTED)  # key table unknown or too stale: fail closed
        computed = key_hmac(self._secret, presented)
        entry = self._by_hmac.get(computed)
        if entry is None or not same_digest(entry.row.hmac, computed):
            raise AuthenticationError(_REJECTED)
        if entry.expires is not None and now >= entry.expires:
            raise AuthenticationError(_REJECTED)
        return entry.tenant

    def row(self, key_id: str) -> VirtualKeyRow | None:
        """The loaded row of a key (revoked ones included), for limits and the admin API."""
        return self._rows.get(key_id)

    def rows(self) -> list[VirtualKeyRow]:
        """Every loaded key row."""
        return list(self._rows.values())

    @property
    def loaded_at(self) -> float | None:
        """Unix time of the last successful refresh."""
        return self._loaded_at

    # ---- refresh -------------------------------------------------------------------------------------------
    def load_rows(self) -> list[VirtualKeyRow]:
        """Read the latest version of every key (blocking)."""
        return [row_from_db(values) for values in self._table.query(_SELECT, {"db": self._table.database})]

    def install(self, loaded: list[VirtualKeyRow], *, loaded_at: float) -> None:
        """Swap in a freshly loaded table, keeping local writes newer than what was read."""
        rows = {row.key_id: row for row in loaded}
        for key_id, written in list(self._written.items()):
            seen = rows.get(key_id)
            if seen is not None and seen.version >= written.version:
                del self._written[key_id]
            else:
                rows[key_id] = written
        self._rows = rows
        self._by_hmac = {row.hmac: _Entry(row) for row in rows.values() if not row.revoked}
        self._loaded_at = loaded_at

    async def refresh(self) -> bool:
        """Reload the map from ClickHouse; False (map kept) when the store is unreachable."""
        started = self._clock()
        try:
            loaded = await anyio.to_thread.run_sync(self.load_rows)
        except Exception as error:
            self.refresh_failures += 1
            log.warning("virtual key refresh failed (serving cached keys for up to %.0fs): %s",
                        self._settings.cache_ttl_s, type(error).__name__)
            return False
        self.install(loaded, loaded_at=started)
        return True

    async def start(self) -> None:
        """First load (errors are logged; keys are rejected until a load succeeds) and the refresh task."""
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="portcullis-key-refresh")

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.refresh_interval_s)
            await self.refresh()

    async def aclose(self) -> None:
        """Stop the refresh task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ---- management ----------------------------------------------------------------------------------------
    def _write(self, row: VirtualKeyRow) -> None:
        self._table.insert(TABLE, [row_to_db(row)], list(COLUMNS))

    def _remember(self, row: VirtualKeyRow) -> None:
        self._written[row.key_id] = row
        self._rows[row.key_id] = row
        by_hmac = {hmac_: entry for hmac_, entry in self._by_hmac.items() if entry.row.key_id != row.key_id}
        if not row.revoked:
            by_hmac[row.hmac] = _Entry(row)
        self._by_hmac = by_hmac

    async def create(self, request: KeyCreateRequest) -> tuple[str, VirtualKeyRow]:
        """Mint a key; returns (plaintext shown once, stored row). Usable on this replica at once."""
        plaintext = generate_key()
        now = datetime.now(UTC)
        budget = None if request.budget_usd is None else round(request.budget_usd * NANO_PER_USD)
        row = VirtualKeyRow(
            key_id=generate_key_id(), prefix=key_prefix(plaintext), hmac=key_hmac(self._secret, plaintext),
            name=request.name, team=request.team, metadata=dict(request.metadata),
            default_config=request.default_config or "", allowed_models=list(request.allowed_models),
            allowed_configs=list(request.allowed_configs), budget_usd_nano=budget,
            budget_period=request.budget_period, rpm=request.rpm, tpm=request.tpm,
            log_policy=request.log_policy or "", expires_at=_utc(request.expires_at), revoked=False,
            created_at=now, version=time.time_ns(),
        )
        await anyio.to_thread.run_sync(self._write, row)
        self._remember(row)
        return plaintext, row

    def _read_one(self, key_id: str) -> VirtualKeyRow | None:
        rows = self._table.query(_SELECT + " WHERE key_id = {key_id:String}",
                                 {"db": self._table.database, "key_id": key_id})
        return row_from_db(rows[0]) if rows else None

    async def get(self, key_id: str) -> VirtualKeyRow | None:
        """The latest stored version of one key (read from ClickHouse)."""
        return await anyio.to_thread.run_sync(self._read_one, key_id)

    async def list_keys(self, team: str | None = None) -> list[VirtualKeyRow]:
        """Every key (or one team's), newest first, read from ClickHouse."""
        rows = await anyio.to_thread.run_sync(self.load_rows)
        if team is not None:
            rows = [row for row in rows if row.team == team]
        return sorted(rows, key=lambda row: row.created_at, reverse=True)

    async def revoke(self, key_id: str) -> VirtualKeyRow | None:
        """Mark a key revoked (a new version); None if there is no such key. Effective here at once and on
        every other replica at its next refresh (`refresh_interval_s`)."""
        current = await self.get(key_id)
        if current is None:
            return None
        if current.revoked:
            return current
        revoked = msgspec.structs.replace(current, revoked=True, version=max(time.time_ns(), current.version + 1))
        await anyio.to_thread.run_sync(self._write, revoked)
        self._remember(revoked)
        return revoked
