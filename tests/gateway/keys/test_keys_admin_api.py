"""Admin API on a real loopback server over real chDB: auth, deny by default, team scoping, audit, CLI, OpenAPI."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from gateway.api.admin import ADMIN_COMPONENTS, admin_router
from gateway.api.errors import handle_gateway_error, handle_http_exception, handle_unexpected
from gateway.errors import GatewayError
from gateway.keys import cli as keys_cli
from gateway.keys.store import KeyStore
from gateway.keys.tokens import key_hmac
from gateway.limits.limiter import Limits
from gateway.limits.prices import WorstCaseRates
from gateway.pricing import PriceBook
from gateway.settings import SecretResolver
from gateway.store.client import Store
from gateway.store.writer import LogWriter
from schemas.keys import KeySettings, TeamLimits
from schemas.settings import PortcullisSettings

ADMIN = "admin-token-0123456789"
TEAM_A_ADMIN = "team-a-admin-token-0123"
SECRET = "server-secret-for-tests"
ENV = {"PC_ADMIN": ADMIN, "PC_TEAM_A": TEAM_A_ADMIN, "PC_SECRET": SECRET}


class Admin:
    """A running admin API plus handles on its services."""

    def __init__(self, url: str, services: SimpleNamespace, writer: LogWriter) -> None:
        self.url = url
        self.services = services
        self.writer = writer

    def call(self, method: str, path: str, token: str | None = ADMIN, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_admin(store: Store, spool: Path) -> Iterator[Admin]:
    settings = PortcullisSettings(admin_token="env:PC_ADMIN", secret="env:PC_SECRET", keys=KeySettings(
        team_admin_tokens={"team-a": "env:PC_TEAM_A"}, teams={"team-a": TeamLimits(budget_usd=5.0)}))
    writer = LogWriter(store, spool_dir=str(spool), flush_interval_ms=50, fsync_window_ms=2)
    secrets = SecretResolver(ENV)
    # The admin API reads only these attributes of the app's Services (the lead's object in the real app).
    services = SimpleNamespace(settings=settings, secrets=secrets, store=store, writer=writer, keys=None,
                               limits=None)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        keys = KeyStore(store, secret=secrets(settings.secret) or "", settings=settings.keys)
        limits = Limits(settings.keys, keys=keys, store=store, rates=WorstCaseRates(PriceBook(), {}, []))
        await keys.start()
        await limits.start()
        services.keys, services.limits = keys, limits
        app.state.services = services
        yield
        await limits.aclose()
        await keys.aclose()

    app = Litestar(
        route_handlers=[admin_router()], lifespan=[lifespan],
        exception_handlers={GatewayError: handle_gateway_error, HTTPException: handle_http_exception,
                            Exception: handle_unexpected},
        openapi_config=OpenAPIConfig(title="Portcullis admin", version="1", path="/admin/schema",
                                     components=ADMIN_COMPONENTS),
        debug=False,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", access_log=False,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    writer.start()
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "admin server did not start"
        time.sleep(0.02)
    try:
        yield Admin(f"http://127.0.0.1:{port}", services, writer)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        writer.stop(timeout=10)


@pytest.fixture
def admin(keys_store: Store, tmp_path: Path) -> Iterator[Admin]:
    with running_admin(keys_store, tmp_path / "spool") as running:
        yield running


ROUTES = [("POST", "/admin/keys"), ("GET", "/admin/keys"), ("GET", "/admin/keys/key_00000000000"),
          ("DELETE", "/admin/keys/key_00000000000"), ("GET", "/admin/budgets")]


def test_every_admin_route_denies_without_the_admin_credential(admin: Admin) -> None:
    created = admin.call("POST", "/admin/keys", json={"team": "team-a"}).json()["key"]
    bad_tokens = [None, "wrong", created, "' OR 1=1 --", "a" * 10_000, ADMIN + "x", ADMIN[:-1],
                  key_hmac(SECRET.encode(), created)]
    for method, path in ROUTES:
        for token in bad_tokens:
            answer = admin.call(method, path, token=token, json={"team": "team-a"})
            assert answer.status_code == 401, (method, path, token, answer.text)
            assert answer.json()["error"]["type"] == "authentication_error"
        for header in [b"Basic " + ADMIN.encode(), b"Bearer", b"Token " + ADMIN.encode(),
                       "Bearer \u00e9\u00e9".encode(), b"Bearer " + ADMIN.encode() + b"\xff"]:
            answer = httpx.request(method, admin.url + path, headers={"authorization": header}, timeout=10)
            assert answer.status_code == 401, (method, path, header)


def test_create_list_get_revoke_and_audit(admin: Admin, keys_store: Store) -> None:
    answer = admin.call("POST", "/admin/keys", json={
        "team": "team-b", "name": "batch", "metadata": {"feature": "summaries"}, "budget_usd": 0.5,
        "budget_period": "week", "rpm": 60, "tpm": 10000, "allowed_models": ["gpt-4o*"]})
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    created = answer.json()
    plaintext, key_id = created["key"], created["record"]["key_id"]
    hmac_hex = key_hmac(SECRET.encode(), plaintext)
    assert plaintext.startswith("pc-") and created["record"]["prefix"] == plaintext[3:11]
    assert "hmac" not in created["record"]
    assert admin.services.keys.authenticate(plaintext).team == "team-b"  # usable at once

    listing = admin.call("GET", "/admin/keys")
    assert listing.status_code == 200 and [key["key_id"] for key in listing.json()["keys"]] == [key_id]
    one = admin.call("GET", f"/admin/keys/{key_id}")
    assert one.status_code == 200 and one.json()["budget_usd"] == 0.5 and one.json()["rpm"] == 60
    for text in (listing.text, one.text):
        assert plaintext not in text and hmac_hex not in text and plaintext[3:] not in text

    revoked = admin.call("DELETE", f"/admin/keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert admin.call("GET", "/admin/keys/key_00000000000").status_code == 404
    assert admin.call("GET", "/admin/keys/' OR 1=1 --").status_code == 404
    assert admin.call("DELETE", "/admin/keys/key_00000000000").status_code == 404

    assert admin.call("POST", "/admin/keys", json={"team": "x", "surprise": 1}).status_code == 400
    assert admin.call("POST", "/admin/keys", json={"team": "x", "rpm": -1}).status_code == 400
    assert admin.call("POST", "/admin/keys", json={"team": "x", "metadata": {"team": "y"}}).status_code == 400
    assert admin.call("POST", "/admin/keys", content=b"{not json", headers={
        "content-type": "application/json"}).status_code == 400

    assert admin.writer.stop(timeout=10)
    audit = keys_store.query("SELECT action, target, actor FROM {db:Identifier}.audit_log ORDER BY seq",
                             {"db": keys_store.database})
    assert audit == [("key_create", key_id, "admin"), ("key_revoke", key_id, "admin")]
    everything = repr(keys_store.query("SELECT * FROM {db:Identifier}.audit_log", {"db": keys_store.database}))
    assert plaintext not in everything and hmac_hex not in everything


def test_team_admin_sees_and_changes_only_its_team(admin: Admin) -> None:
    other = admin.call("POST", "/admin/keys", json={"team": "team-b", "budget_usd": 1.0}).json()["record"]
    own = admin.call("POST", "/admin/keys", token=TEAM_A_ADMIN, json={"team": "team-a", "budget_usd": 1.0})
    assert own.status_code == 201
    own_id = own.json()["record"]["key_id"]
    assert admin.call("POST", "/admin/keys", token=TEAM_A_ADMIN, json={"team": "team-b"}).status_code == 403
    listed = admin.call("GET", "/admin/keys?team=team-b", token=TEAM_A_ADMIN).json()["keys"]
    assert [key["key_id"] for key in listed] == [own_id]
    assert admin.call("GET", f"/admin/keys/{other['key_id']}", token=TEAM_A_ADMIN).status_code == 404
    assert admin.call("DELETE", f"/admin/keys/{other['key_id']}", token=TEAM_A_ADMIN).status_code == 404
    assert admin.call("GET", f"/admin/keys/{other['key_id']}").json()["revoked"] is False

    time.sleep(0.05)
    all_budgets = admin.call("GET", "/admin/budgets").json()["budgets"]
    assert {(item["scope"], item["team"]) for item in all_budgets} == {
        ("key", "team-b"), ("key", "team-a"), ("team", "team-a")}
    team_budgets = admin.call("GET", "/admin/budgets", token=TEAM_A_ADMIN).json()["budgets"]
    assert {item["team"] for item in team_budgets} == {"team-a"}


def test_cli_goes_through_the_admin_api(admin: Admin, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    keys_cli.add_arguments(parser.add_subparsers(dest="command"))
    settings = PortcullisSettings()
    monkeypatch.setenv(keys_cli.ADMIN_TOKEN_ENV, ADMIN)

    def run(*argv: str) -> str:
        args = parser.parse_args(["keys", "--url", admin.url, *argv])
        assert keys_cli.run(args, settings) == 0
        return capsys.readouterr().out

    plaintext = run("create", "--team", "team-c", "--name", "cli", "--budget", "2", "--period", "day",
                    "--rpm", "5", "--metadata", "feature=cli").strip()
    assert plaintext.startswith("pc-") and len(plaintext) == 46
    listed = run("list")
    assert "team=team-c" in listed and plaintext not in listed and plaintext[3:11] in listed
    key_id = listed.split()[0]
    assert "revoked" in run("revoke", key_id)
    monkeypatch.setenv(keys_cli.ADMIN_TOKEN_ENV, "wrong")
    with pytest.raises(SystemExit):
        run("list")


def test_openapi_documents_the_admin_routes(admin: Admin) -> None:
    schema = httpx.get(admin.url + "/admin/schema/openapi.json", timeout=10).json()
    assert {"/admin/keys", "/admin/keys/{key_id}", "/admin/budgets"} <= set(schema["paths"])
    create = schema["paths"]["/admin/keys"]["post"]
    assert create["summary"] == "Create a virtual key" and create["security"] == [{"AdminToken": []}]
    assert "KeyCreateRequest" in str(create["requestBody"]) and "KeyCreated" in str(create["responses"])
