"""`portcullis keys create|list|revoke`: through the running gateway's admin API, or ClickHouse directly.

On `chdb://` the embedded store is locked by the gateway process, so the CLI always goes through the admin
API (`--url`, default http://127.0.0.1:<server.port>, token from PORTCULLIS_ADMIN_TOKEN). With an
`http(s)://` store `--direct` writes to ClickHouse itself (an audit row is written on its own chain).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from schemas.keys import KeyCreated, KeyCreateRequest, KeyList, KeyView

ADMIN_TOKEN_ENV = "PORTCULLIS_ADMIN_TOKEN"


def add_arguments(subparsers: Any) -> argparse.ArgumentParser:
    """Add `keys` (with create, list, revoke) to the top-level command parser."""
    keys = subparsers.add_parser("keys", help="create, list and revoke virtual keys")
    keys.add_argument("--config", "-c", default=os.environ.get("PORTCULLIS_CONFIG", "portcullis.yaml"),
                      help="path to portcullis.yaml (env PORTCULLIS_CONFIG)")
    keys.add_argument("--url", default=None, help="gateway URL (default http://127.0.0.1:<server.port>)")
    keys.add_argument("--direct", action="store_true", help="write to ClickHouse directly (http(s) DSN only)")
    commands = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    create = commands.add_parser("create", help="mint a key; the key is printed once")
    create.add_argument("--team", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--budget", type=float, default=None, help="budget in USD per period")
    create.add_argument("--period", choices=("day", "week", "month"), default="month")
    create.add_argument("--rpm", type=int, default=0)
    create.add_argument("--tpm", type=int, default=0)
    create.add_argument("--models", nargs="*", default=[], help="allowed models (`prefix*` globs)")
    create.add_argument("--config", "--default-config", dest="default_config", default=None,
                        help="the key's default routing config id (pc-…); the config FILE is `keys -c FILE`")
    create.add_argument("--allowed-configs", nargs="*", default=[], help="config ids this key may select")
    create.add_argument("--metadata", nargs="*", default=[], metavar="K=V", help="default metadata")
    create.add_argument("--log-policy", choices=("full", "metadata", "off"), default=None)
    create.add_argument("--expires", default=None, help="ISO 8601 time, e.g. 2030-01-01T00:00:00Z")
    create.add_argument("--json", action="store_true", help="print the full JSON answer")
    listing = commands.add_parser("list", help="list keys (prefixes and limits, never secrets)")
    listing.add_argument("--team", default=None)
    listing.add_argument("--json", action="store_true")
    revoke = commands.add_parser("revoke", help="revoke a key by id (effective within seconds everywhere)")
    revoke.add_argument("key_id")
    keys.set_defaults(run=main)
    return keys


def create_request(args: argparse.Namespace) -> KeyCreateRequest:
    """The create arguments as the admin API body."""
    metadata: dict[str, str] = {}
    for item in args.metadata:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"portcullis keys: --metadata expects K=V, got {item!r}")
        metadata[name] = value
    expires = None
    if args.expires:
        expires = datetime.fromisoformat(args.expires.replace("Z", "+00:00"))
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
    return KeyCreateRequest(
        team=args.team, name=args.name, metadata=metadata, default_config=args.default_config,
        allowed_models=list(args.models), allowed_configs=list(args.allowed_configs), budget_usd=args.budget,
        budget_period=args.period, rpm=args.rpm, tpm=args.tpm, log_policy=args.log_policy, expires_at=expires,
    )


def _describe(view: KeyView) -> str:
    budget = f"${view.budget_usd:g}/{view.budget_period}" if view.budget_usd is not None else "-"
    state = "revoked" if view.revoked else "active"
    return (f"{view.key_id}  pc-{view.prefix}…  team={view.team}  name={view.name or '-'}  budget={budget}  "
            f"rpm={view.rpm or '-'}  tpm={view.tpm or '-'}  {state}")


class _AdminApi:
    """The admin API over HTTP."""

    def __init__(self, url: str, token: str) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=30.0,
                                    headers={"authorization": f"Bearer {token}"})

    def _call(self, method: str, path: str, body: bytes | None = None,
              params: dict[str, str] | None = None) -> bytes:
        response = self._client.request(method, path, content=body, params=params,
                                        headers={"content-type": "application/json"} if body else None)
        if response.status_code >= 400:
            raise SystemExit(f"portcullis keys: {method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.content

    def close(self) -> None:
        self._client.close()

    def create(self, request: KeyCreateRequest) -> KeyCreated:
        return msgspec.json.decode(self._call("POST", "/admin/keys", msgspec.json.encode(request)), type=KeyCreated)

    def list_keys(self, team: str | None) -> list[KeyView]:
        params = {"team": team} if team else None
        return msgspec.json.decode(self._call("GET", "/admin/keys", params=params), type=KeyList).keys

    def revoke(self, key_id: str) -> KeyView:
        return msgspec.json.decode(self._call("DELETE", f"/admin/keys/{key_id}"), type=KeyView)


class _DirectStore:
    """ClickHouse directly (server DSN only): the same KeyStore the gateway uses, plus an audit row."""

    def __init__(self, settings: Any) -> None:
        from gateway.keys.store import KeyStore
        from gateway.settings import SecretResolver
        from gateway.store.client import Store, StoreConfig

        store_settings = settings.store
        self._store = Store.connect(StoreConfig(dsn=store_settings.dsn, database=store_settings.database,
                                                cluster=store_settings.cluster))
        secret = SecretResolver()(settings.secret)
        self._keys = KeyStore(self._store, secret=secret or "", settings=settings.keys)

    def close(self) -> None:
        self._store.close()

    def _audit(self, action: str, target: str) -> None:
        from gateway.store.rows import AUDIT_COLUMNS, GENESIS_HASH, audit_row, chain_audit
        from schemas.log import AuditRow

        row = AuditRow(at=datetime.now(UTC), actor=f"cli:{os.environ.get('USER', '?')}", role="admin",
                       action=action, target=target)
        chained = chain_audit(row, f"cli-{socket.gethostname()}-{time.time_ns()}", 1, GENESIS_HASH)
        self._store.insert("audit_log", [audit_row(chained)], list(AUDIT_COLUMNS))

    def create(self, request: KeyCreateRequest) -> KeyCreated:
        from gateway.keys.store import key_view

        plaintext, row = asyncio.run(self._keys.create(request))
        self._audit("key_create", row.key_id)
        return KeyCreated(key=plaintext, record=key_view(row))

    def list_keys(self, team: str | None) -> list[KeyView]:
        from gateway.keys.store import key_view

        return [key_view(row) for row in asyncio.run(self._keys.list_keys(team))]

    def revoke(self, key_id: str) -> KeyView:
        from gateway.keys.store import key_view

        row = asyncio.run(self._keys.revoke(key_id))
        if row is None:
            raise SystemExit(f"portcullis keys: no such key {key_id}")
        self._audit("key_revoke", key_id)
        return key_view(row)


def _backend(args: argparse.Namespace, settings: Any) -> _AdminApi | _DirectStore:
    if args.direct:
        if settings.store.dsn.startswith("chdb://"):
            raise SystemExit("portcullis keys: --direct needs an http(s):// store; the gateway locks chdb:// paths")
        return _DirectStore(settings)
    token = os.environ.get(ADMIN_TOKEN_ENV)
    if not token:
        raise SystemExit(f"portcullis keys: set {ADMIN_TOKEN_ENV} to the gateway's admin token")
    return _AdminApi(args.url or f"http://127.0.0.1:{settings.server.port}", token)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Execute one `keys` subcommand; prints a new key exactly once."""
    backend = _backend(args, settings)
    try:
        return _execute(args, backend)
    finally:
        backend.close()


def _execute(args: argparse.Namespace, backend: _AdminApi | _DirectStore) -> int:
    if args.keys_command == "create":
        created = backend.create(create_request(args))
        if args.json:
            print(msgspec.json.encode(created).decode())
        else:
            print(created.key)
            print(f"# {_describe(created.record)}", file=sys.stderr)
            print("# store this key now: it cannot be shown again", file=sys.stderr)
        return 0
    if args.keys_command == "list":
        views = backend.list_keys(args.team)
        if args.json:
            print(msgspec.json.encode(views).decode())
        else:
            for view in views:
                print(_describe(view))
        return 0
    if not re.match(r"^key_[0-9A-Za-z]{11}$", args.key_id):
        raise SystemExit(f"portcullis keys: {args.key_id!r} is not a key id (key_…)")
    view = backend.revoke(args.key_id)
    print(f"revoked {_describe(view)}")
    return 0


def main(args: argparse.Namespace) -> int:
    """`set_defaults(run=...)` entry: load the config file named by --config, then `run`."""
    from gateway.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"portcullis: {exc}", file=sys.stderr)
        return 2
    return run(args, settings)
