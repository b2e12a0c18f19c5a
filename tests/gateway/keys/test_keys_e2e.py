"""End to end: the openai SDK → the gateway (keys, budgets, limits, admin API) → the simulator, rows in chDB."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import RunningGateway, running_gateway

from gateway.keys.tokens import key_hmac
from gateway.settings import parse_settings
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.runner import run_in_thread

ADMIN = "e2e-admin-token-0123456789"
SECRET = "e2e-server-secret-0123456789"
ENV = {"PC_ADMIN": ADMIN, "PC_SECRET": SECRET}
MODEL = "gpt-4o-mini"  # priced by genai-prices: $0.15 in / $0.60 out per million tokens


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[Any]:
    """Answers after 150 ms, so a burst is really in flight at once."""
    with run_in_thread(SimulatorConfig(latency_ms=150)) as running:
        yield running


@pytest.fixture
def gateway(slow_simulator: Any, chdb_dsn: str, database_name: str, tmp_path: Any) -> Iterator[RunningGateway]:
    settings = parse_settings(f"""
providers:
  sim:
    adapter: openai
    base_url: {slow_simulator.base_url}/v1
    api_key: sk-sim-upstream
    models: [{MODEL}]
store:
  dsn: {chdb_dsn}
  database: {database_name}
  spool_dir: {tmp_path}/spool
  flush_interval_ms: 100
secret: env:PC_SECRET
admin_token: env:PC_ADMIN
require_keys: true
keys:
  refresh_interval_s: 0.5
  ledger_interval_s: 0.5
""")
    with running_gateway(settings, environ=ENV) as running:
        yield running


def admin(gw: RunningGateway, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, gw.root_url + path, headers={"authorization": f"Bearer {ADMIN}"}, timeout=10,
                         **kwargs)


def create_key(gw: RunningGateway, **fields: Any) -> tuple[str, str]:
    answer = admin(gw, "POST", "/admin/keys", json=fields)
    assert answer.status_code == 201, answer.text
    return answer.json()["key"], answer.json()["record"]["key_id"]


def chat(gw: RunningGateway, key: str, **kwargs: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "echo: hello"}], "max_tokens": 1000}
    body.update(kwargs.pop("body", {}))
    headers = {"authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.post(gw.base_url + "/chat/completions", json=body, headers=headers, timeout=30)


def flushed_rows(gw: RunningGateway, sql: str, params: dict[str, Any], expected: int) -> list[Any]:
    deadline = time.monotonic() + 15
    rows: list[Any] = []
    while time.monotonic() < deadline:
        gw.services.writer.flush_now()
        rows = gw.services.store.query(sql, params)
        if len(rows) >= expected:
            break
        time.sleep(0.1)
    return rows


def test_parallel_burst_stays_within_budget_plus_one_request(gateway: RunningGateway) -> None:
    worst_case_usd = 1000 * 0.60e-6 + 100 * 0.15e-6  # max_tokens at the output price + a generous input
    budget = 0.0015
    key, key_id = create_key(gateway, team="burst", budget_usd=budget, budget_period="day")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: chat(gateway, key), range(20)))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 1 and statuses.count(429) >= 1
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["code"] == "budget_exceeded" and "retry-after" in refused.headers
    rows = flushed_rows(gateway, "SELECT request_id, cost_nano_usd FROM requests FINAL WHERE key_id = {k:String}",
                        {"k": key_id}, len(answers))
    assert len(rows) == 20  # refused requests are recorded too, at zero cost
    spent_usd = sum(cost for _, cost in rows) / 1e9
    assert spent_usd > 0
    assert spent_usd <= budget + worst_case_usd
    time.sleep(1.0)  # one reconcile
    status = admin(gateway, "GET", "/admin/budgets").json()["budgets"]
    mine = next(item for item in status if item["id"] == key_id)
    assert mine["reserved_usd"] == 0 and abs(mine["spent_usd"] - spent_usd) < 1e-9


def test_rpm_limit_answers_429_with_openai_headers(gateway: RunningGateway) -> None:
    key, _ = create_key(gateway, team="rpm", rpm=3)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    for remaining in ("2", "1", "0"):
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "echo: hi"}], max_tokens=5)
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        assert raw.headers["x-ratelimit-remaining-requests"] == remaining
        assert raw.headers["x-ratelimit-reset-requests"]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "echo: hi"}],
                                       max_tokens=5)
    headers = refused.value.response.headers
    assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-remaining-requests"] == "0"


def test_revoked_key_is_rejected_within_seconds(gateway: RunningGateway) -> None:
    key, key_id = create_key(gateway, team="revoke")
    assert chat(gateway, key).status_code == 200
    assert admin(gateway, "DELETE", f"/admin/keys/{key_id}").status_code == 200
    revoked_at = time.monotonic()
    while chat(gateway, key, body={"max_tokens": 5}).status_code != 401:
        assert time.monotonic() - revoked_at < 3.0
        time.sleep(0.1)


def test_key_and_hmac_never_reach_any_table_log_or_response(gateway: RunningGateway,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key, key_id = create_key(gateway, team="canary", rpm=2, budget_usd=1.0)
    secrets = {key, key[3:], key_hmac(SECRET.encode(), key), hashlib.sha256(key.encode()).hexdigest()}
    answers = [chat(gateway, key) for _ in range(3)]  # 200, 200, 429
    answers.append(chat(gateway, key + "x"))  # 401
    answers.append(httpx.post(gateway.base_url + "/chat/completions", json={"model": MODEL, "messages": []},
                              headers={"x-api-key": key}, timeout=10))
    answers.append(admin(gateway, "GET", "/admin/keys"))
    answers.append(admin(gateway, "GET", f"/admin/keys/{key_id}"))
    assert [answer.status_code for answer in answers[:4]] == [200, 200, 429, 401]
    flushed_rows(gateway, "SELECT request_id FROM requests WHERE key_id = {k:String}", {"k": key_id}, 3)
    store = gateway.services.store
    tables = [row[0] for row in store.query("SELECT name FROM system.tables WHERE database = {db:String} "
                                            "AND engine NOT LIKE '%View%'", {"db": store.database})]
    assert {"requests", "spans", "virtual_keys", "audit_log"} <= set(tables)
    stored_hmac = key_hmac(SECRET.encode(), key)
    for table in tables:
        sql = "SELECT * FROM {db:Identifier}.{t:Identifier}"
        if table == "virtual_keys":  # the HMAC's one home is virtual_keys.hmac; check every other column
            sql = "SELECT * EXCEPT (hmac) FROM {db:Identifier}.{t:Identifier}"
        dump = repr(store.query(sql, {"db": store.database, "t": table}))
        for secret in secrets:
            assert secret not in dump, f"{table} holds a key secret"
    hmacs = store.query("SELECT hmac FROM {db:Identifier}.virtual_keys WHERE key_id = {k:String}",
                        {"db": store.database, "k": key_id})
    assert hmacs == [(stored_hmac,)]
    for answer in answers:
        text = answer.text + json.dumps(dict(answer.headers))
        assert not any(secret in text for secret in secrets)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(secret in logged for secret in secrets)


def test_team_is_fixed_by_the_key(gateway: RunningGateway) -> None:
    key, key_id = create_key(gateway, team="team-a", metadata={"feature": "search"})
    answer = chat(gateway, key, headers={"x-portcullis-metadata": json.dumps({"team": "team-b", "user": "u1"})})
    assert answer.status_code == 200
    rows = flushed_rows(gateway, "SELECT team, feature, metadata['user'] FROM requests WHERE key_id = {k:String}",
                        {"k": key_id}, 1)
    assert rows == [("team-a", "search", "u1")]


@pytest.mark.parametrize("authorization", [
    "Bearer ' OR 1=1 --", "Bearer pc-' OR 1=1 --", "Bearer pc-" + "A" * 8000, "Bearer pc-" + "\u00e9" * 43,
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer pc-", "bearer pc-" + "0" * 43, "Token pc-abc",
])
def test_bad_keys_and_malformed_authorization_are_401_never_500(gateway: RunningGateway,
                                                                 authorization: str) -> None:
    answer = httpx.post(gateway.base_url + "/chat/completions",
                        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                        headers={"authorization": authorization.encode("utf-8")}, timeout=10)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["type"] == "authentication_error"


def test_control_characters_in_authorization_are_refused_before_the_app(gateway: RunningGateway) -> None:
    answer = httpx.post(gateway.base_url + "/chat/completions", json={"model": MODEL, "messages": []},
                        headers={"authorization": b"Bearer pc-\x7f"}, timeout=10)
    assert answer.status_code in (400, 401)
