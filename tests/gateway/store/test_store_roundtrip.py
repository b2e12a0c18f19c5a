"""Every LogRecord kind reaches its table through the writer with the right values; rollup and audit chain."""

from __future__ import annotations

from datetime import timedelta

from store_records import BASE_TIME, make_request

from gateway.store.client import Store, StoreConfig
from gateway.store.rows import AUDIT_COLUMNS, GENESIS_HASH, verify_audit_chain
from gateway.store.writer import LogWriter
from schemas.log import AttemptLog, AuditRow, GuardrailRow, SpanRow


def _naive(moment):  # chDB returns UTC datetimes without tzinfo
    return moment.replace(tzinfo=None)


def _run(store: Store, config: StoreConfig, records: list) -> LogWriter:
    writer = LogWriter.from_config(store, config)
    writer.start()
    for record in records:
        writer.submit(record)
    assert writer.wait_idle(20), writer.stats()
    assert writer.stop(5)
    return writer


def test_store_request_row_round_trip(store: Store, store_config: StoreConfig) -> None:
    attempts = [
        AttemptLog(target_path="targets[0]", provider="openai", model="gpt-4o", status=503,
                   error_type="upstream_error", error_message="busy", started_at=BASE_TIME, latency_ms=4.5),
        AttemptLog(target_path="targets[1]", provider="anthropic", model="claude-sonnet-4-5", status=200,
                   started_at=BASE_TIME + timedelta(milliseconds=5), latency_ms=9.0, retry_index=1),
    ]
    record = make_request(1, attempts=attempts, retry_count=1, metadata={"env": "prod", "ticket": "T-1"},
                          guardrail_failed=["pii"], guardrail_outcome="redacted", streamed=True,
                          ttft_ms=None, user="alice", reasoning_tokens=7, cache_write_tokens=3)
    _run(store, store_config, [record])
    columns, rows = store.query_columns("SELECT * FROM requests WHERE request_id = {id:String}",
                                        {"id": record.request_id})
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    assert row["started_at"] == _naive(record.started_at)
    assert row["metadata"] == {"env": "prod", "ticket": "T-1"}
    assert row["attempt_provider"] == ["openai", "anthropic"]
    assert row["attempt_status"] == [503, 200]
    assert row["attempt_error_message"] == ["busy", ""]
    assert row["attempt_started_at"] == [_naive(a.started_at) for a in attempts]
    assert row["attempt_retry_index"] == [0, 1]
    assert row["ttft_ms"] is None and row["streamed"] is True
    assert row["guardrail_failed"] == ["pii"] and row["guardrail_outcome"] == "redacted"
    for name in ("request_id", "trace_id", "team", "feature", "user", "model_served", "input_tokens",
                 "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
                 "cost_nano_usd", "price_known", "request_body", "response_body", "http_status", "status"):
        assert row[name] == getattr(record, name), name
    found = store.query("SELECT request_id FROM requests WHERE hasToken(request_body, {word:String})",
                        {"word": "hello"})
    assert found == [(record.request_id,)]


def test_store_guardrail_span_audit_round_trip(store: Store, store_config: StoreConfig) -> None:
    guardrail = GuardrailRow(request_id="req-1", trace_id="t1", started_at=BASE_TIME, stage="input",
                             check_id="pii", check_name="PII", verdict="failed", action="redact",
                             entity_types=["EMAIL_ADDRESS"], finding_count=2,
                             findings_json='[{"type":"EMAIL_ADDRESS","start":1,"end":9,"score":0.9}]',
                             latency_ms=1.5, team="team-a", feature="search", key_id="k1")
    span = SpanRow(trace_id="t1", span_id="s2", parent_span_id="s1", name="chat gpt-4o", kind="CLIENT",
                   started_at=BASE_TIME, ended_at=BASE_TIME + timedelta(milliseconds=8), duration_ms=8.0,
                   status_code="ERROR", status_message="boom", attributes={"gen_ai.request.model": "gpt-4o"},
                   events_json='[{"name":"x"}]', request_id="req-1")
    audits = [AuditRow(at=BASE_TIME + timedelta(seconds=i), actor="auditor@x", role="auditor",
                       action="view_trace", target=f"req-{i}", source_ip="127.0.0.1") for i in range(3)]
    _run(store, store_config, [guardrail, span, *audits])

    g_cols, g_rows = store.query_columns("SELECT * FROM guardrail_results")
    g = dict(zip(g_cols, g_rows[0], strict=True))
    assert len(g_rows) == 1 and g["entity_types"] == ["EMAIL_ADDRESS"] and g["finding_count"] == 2
    assert g["findings_json"] == guardrail.findings_json and g["started_at"] == _naive(BASE_TIME)

    s_cols, s_rows = store.query_columns("SELECT * FROM spans WHERE trace_id = 't1'")
    s = dict(zip(s_cols, s_rows[0], strict=True))
    assert s["attributes"] == {"gen_ai.request.model": "gpt-4o"} and s["parent_span_id"] == "s1"
    assert s["ended_at"] == _naive(span.ended_at) and s["status_message"] == "boom"

    rows = store.query(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log ORDER BY chain, seq")
    assert [row[4] for row in rows] == ["req-0", "req-1", "req-2"]
    assert rows[0][9] == GENESIS_HASH and rows[1][9] == rows[0][10]
    assert verify_audit_chain(rows) == []
    tampered = [list(row) for row in rows]
    tampered[1][6] = "edited"
    assert verify_audit_chain(tampered) == [2]


def test_store_daily_rollup_sums_requests(store: Store, store_config: StoreConfig) -> None:
    records = [make_request(i, feature="search" if i % 2 else "chat", status="ok" if i % 5 else "error",
                            price_known=i != 3) for i in range(20)]
    _run(store, store_config, records)
    rows = store.query(
        "SELECT feature, sum(requests), sum(errors), sum(cost_nano_usd), sum(input_tokens), "
        "sum(unpriced_requests) FROM requests_daily WHERE team = {team:String} GROUP BY feature ORDER BY feature",
        {"team": "team-a"})
    assert rows == [("chat", 10, 2, 7_000_000, 1200, 0), ("search", 10, 2, 7_000_000, 1200, 1)]
