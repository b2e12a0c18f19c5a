"""UI test fixtures: a seeded database on the session chDB path and the UI router served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import uvicorn
from litestar import Litestar

from gateway.store.client import Store, StoreConfig
from gateway.store.rows import TABLES
from gateway.store.writer import LogWriter
from schemas.log import AttemptLog, GuardrailRow, RequestLog, SpanRow
from schemas.ui import UiSettings, UiUser
from ui import build_router, hash_password

SECRET = "test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
XSS_REQUEST_ID = "req-xss-0001"
XSS_RESPONSE = ('{"choices":[{"message":{"role":"assistant","content":"<script>window.__pwned=1;alert(1)</script>'
                '<img src=x onerror=\\"window.__pwned=2;alert(2)\\"> <a id=\\"jslink\\" href=\\"javascript:alert(3)\\">'
                'click</a> <svg onload=alert(4)></svg>"}}]}')


@dataclass
class UiServer:
    """A running UI: its base URL, the store and writer behind it, and the seeded request ids."""

    url: str
    app: Litestar
    store: Store
    writer: LogWriter
    database: str
    team_a_ids: list[str]
    team_b_ids: list[str]

    def audit_rows(self, action: str | None = None) -> list[tuple[object, ...]]:
        assert self.writer.wait_idle(10.0)
        self.writer.flush_now()
        assert self.writer.wait_idle(10.0)
        sql = f"SELECT actor, role, action, target, source_ip FROM {self.database}.audit_log"
        rows = self.store.query(sql + (" WHERE action = {a:String}" if action else "") + " ORDER BY at",
                                {"a": action} if action else {})
        return rows


def seed_requests(store: Store, now: datetime, count: int = 60) -> tuple[list[str], list[str]]:
    """Requests in teams a and b with spans, attempts and guardrail rows, plus one hostile response (team a)."""
    requests, spans, guards = [], [], []
    team_ids: dict[str, list[str]] = {"team-a": [], "team-b": []}
    models = [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku"), ("openai", "gpt-4o"),
              ("local", "mystery-model")]
    for i in range(count):
        team = "team-a" if i % 2 == 0 else "team-b"
        provider, model = models[i % len(models)]
        request_id = XSS_REQUEST_ID if i == 0 else f"req-{i:04d}"
        trace_id = f"{i:032x}"
        started = now - timedelta(minutes=5 * i + 1)
        status = "denied" if i % 11 == 5 else ("error" if i % 7 == 3 else "ok")
        retried = i % 5 == 1
        attempts = [AttemptLog(target_path="targets[0]", provider=provider, model=model, status=503,
                               error_type="upstream_error", error_message="overloaded", started_at=started,
                               latency_ms=40.0, retry_index=0)] if retried else []
        attempts.append(AttemptLog(target_path="targets[0]", provider=provider, model=model,
                                   status=200 if status == "ok" else 500, started_at=started, latency_ms=300.0 + i,
                                   retry_index=1 if retried else 0))
        body = XSS_RESPONSE if i == 0 else '{"choices":[{"message":{"content":"Hello number ' + str(i) + '"}}]}'
        requests.append(RequestLog(
            request_id=request_id, trace_id=trace_id, span_id=f"{i:016x}", started_at=started,
            duration_ms=350.0 + i * 3, ttft_ms=120.0 + i, endpoint="chat.completions",
            http_status=200 if status == "ok" else (403 if status == "denied" else 502), status=status,
            error_type="" if status == "ok" else status, key_id=f"key-{i % 3}", key_name=f"key-{team}-{i % 3}",
            team=team, feature="search" if i % 3 else "chat", user=f"user{i % 4}@example.com", env="prod",
            metadata={"session": f"s-{i % 6}"}, config_id="pc-default", provider=provider, model_requested=model,
            model_served=model, attempts=attempts, retry_count=1 if retried else 0, cache_status="MISS",
            input_tokens=100 + i, output_tokens=50 + i, cost_nano_usd=0 if model == "mystery-model" else
            1_000_000 * (i + 1), price_known=model != "mystery-model",
            guardrail_outcome="denied" if status == "denied" else "passed", log_policy="full",
            request_body=f'{{"model":"{model}","messages":[{{"role":"user","content":"question {i}"}}]}}',
            response_body=body))
        team_ids[team].append(request_id)
        server_end = started + timedelta(milliseconds=350 + i * 3)
        spans.append(SpanRow(trace_id=trace_id, span_id=f"s{i:015x}", name="POST /v1/chat/completions",
                             kind="SERVER", started_at=started, ended_at=server_end, duration_ms=350.0 + i * 3,
                             status_code="OK", attributes={"http.request.method": "POST"}, request_id=request_id))
        spans.append(SpanRow(trace_id=trace_id, span_id=f"g{i:015x}", parent_span_id=f"s{i:015x}",
                             name="guardrail pii", kind="INTERNAL", started_at=started + timedelta(milliseconds=2),
                             ended_at=started + timedelta(milliseconds=12), duration_ms=10.0, request_id=request_id))
        for n, attempt in enumerate(attempts):
            begin = started + timedelta(milliseconds=15 + 45 * n)
            spans.append(SpanRow(trace_id=trace_id, span_id=f"a{n}{i:014x}", parent_span_id=f"s{i:015x}",
                                 name=f"chat {model}", kind="CLIENT", started_at=begin,
                                 ended_at=begin + timedelta(milliseconds=attempt.latency_ms),
                                 duration_ms=attempt.latency_ms,
                                 status_code="ERROR" if attempt.status >= 500 else "OK",
                                 attributes={"gen_ai.request.model": model, "gen_ai.provider.name": provider},
                                 request_id=request_id))
        failed = status == "denied" or i % 4 == 0
        guards.append(GuardrailRow(
            request_id=request_id, trace_id=trace_id, started_at=started, stage="input", check_id="pii",
            verdict="failed" if failed else "passed",
            action="deny" if status == "denied" else ("redact" if failed else "none"),
            entity_types=["EMAIL_ADDRESS"] if failed else [], finding_count=1 if failed else 0,
            findings_json='[{"type":"EMAIL_ADDRESS","start":10,"end":27,"score":0.99}]' if failed else "[]",
            latency_ms=4.0, team=team, feature="search"))
    for records in (requests, spans, guards):
        spec = TABLES[type(records[0])]
        store.insert(spec.table, [spec.to_row(r) for r in records], spec.columns)
    return team_ids["team-a"], team_ids["team-b"]


def _bench_seed_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "ui_seed.py"
    spec = importlib.util.spec_from_file_location("portcullis_bench_ui_seed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ui_settings(**overrides: object) -> UiSettings:
    users = {
        "admin": UiUser(password_hash=hash_password(PASSWORD), role="admin"),
        "alice": UiUser(password_hash=hash_password(PASSWORD), role="auditor", teams=["team-a"]),
    }
    return UiSettings(users=users, **overrides)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ui_server(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[UiServer]:
    """One seeded database and one uvicorn-served UI per test module (the chDB path is the session's).

    A module setting UI_DEMO_SEED = N also gets N requests over 30 days from bench/ui_seed.py (for screenshots).
    """
    database = f"pc_test_{uuid.uuid4().hex[:12]}"
    store = Store.connect(StoreConfig(dsn=chdb_dsn, database=database))
    store.migrate()
    demo_rows = int(getattr(request.module, "UI_DEMO_SEED", 0))
    if demo_rows:
        _bench_seed_module().seed(store, demo_rows, days=30, log=False)
    team_a, team_b = seed_requests(store, datetime.now(UTC))
    spool: Path = tmp_path_factory.mktemp("ui_spool")
    writer = LogWriter(store, spool_dir=str(spool), flush_interval_ms=50)
    writer.start()
    plan = getattr(request.module, "UI_PLAN", None)
    settings = ui_settings(login_attempts_per_user=3, **({"plan": plan} if plan else {}))
    router = build_router(settings=settings, query=store.query_async,
                          audit=writer.submit, secret=SECRET, database=database)
    app = Litestar(route_handlers=[router], openapi_config=None, logging_config=None)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield UiServer(url=f"http://127.0.0.1:{port}", app=app, store=store, writer=writer, database=database,
                       team_a_ids=team_a, team_b_ids=team_b)
    finally:
        server.should_exit = True
        thread.join(10)
        writer.stop(5.0)


def csrf_from(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


def _login(client: httpx.Client, base: str, username: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form (CSRF cookie + token) and return the POST response."""
    page = client.get(f"{base}/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(f"{base}/ui/login", data={"username": username, "password": password,
                                                  "csrf_token": token.group(1), "next": "/ui/traces"})


@pytest.fixture
def ui_login() -> object:
    """`ui_login(client, base_url, username, password=PASSWORD)` -> the login POST response."""
    return _login
