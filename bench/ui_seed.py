"""Seed N realistic requests (with spans and guardrail rows) into a chDB path or ClickHouse, generated in SQL."""

# ruff: noqa: E501
from __future__ import annotations

import argparse
import time

from gateway.store.client import Store, StoreConfig

TEAMS = ["checkout", "search", "support", "growth", "research", "platform"]
FEATURES = ["chat", "summarize", "classify", "extract", "rerank", "agent", "autocomplete", "translate"]
# (provider, model, nano-USD per input token, per output token; 0 = unknown price)
MODELS = [("openai", "gpt-4o-mini", 150, 600), ("openai", "gpt-4o", 2500, 10000),
          ("anthropic", "claude-3-5-haiku", 800, 4000), ("anthropic", "claude-sonnet-4", 3000, 15000),
          ("gemini", "gemini-2.0-flash", 100, 400), ("groq", "llama-3.3-70b", 590, 790),
          ("local", "acme-finetune-v2", 0, 0)]
PROMPTS = ["Summarise this support ticket for the on-call engineer", "Classify the sentiment of the review",
           "Extract the invoice total and due date", "Translate the product description to German",
           "Write a SQL query that lists overdue orders", "Explain the error in this stack trace",
           "Draft a polite reply declining the meeting", "Rank these search results by relevance"]
USERS = 400


def _array(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def requests_sql(db: str, start: int, count: int, total: int, days: int) -> str:
    """INSERT ... SELECT FROM numbers(): every column computed from the row number (deterministic)."""
    step_us = int(days * 86_400_000_000 / max(total, 1))
    providers, models = _array([m[0] for m in MODELS]), _array([m[1] for m in MODELS])
    price_in, price_out = [m[2] for m in MODELS], [m[3] for m in MODELS]
    return f"""
INSERT INTO {db}.requests (request_id, trace_id, span_id, started_at, duration_ms, ttft_ms, endpoint, http_status,
  status, error_type, error_message, key_id, key_name, team, feature, user, env, metadata, config_id, provider,
  model_requested, model_served, target_path, attempt_target_path, attempt_provider, attempt_model, attempt_status,
  attempt_error_type, attempt_error_message, attempt_started_at, attempt_latency_ms, attempt_retry_index,
  retry_count, streamed, cache_status, finish_reason, input_tokens, output_tokens, cached_input_tokens,
  cache_write_tokens, reasoning_tokens, cost_nano_usd, price_known, guardrail_outcome, guardrail_failed,
  log_policy, request_body, response_body, user_agent, client_ip)
SELECT
  concat('req_', lower(hex(cityHash64(n, 'id')))) AS request_id,
  concat(lower(hex(cityHash64(n, 't1'))), lower(hex(cityHash64(n, 't2')))) AS trace_id,
  lower(hex(cityHash64(n, 's'))) AS span_id,
  started, dur, if(cached, NULL, 80 + dur * 0.25 * u2) AS ttft_ms, 'chat.completions',
  multiIf(st = 'ok', 200, st = 'denied', 403, st = 'cancelled', 499, 502),
  st, multiIf(st = 'error', 'upstream_error', st = 'denied', 'guardrail_denied', st = 'cancelled', 'cancelled', ''),
  if(st = 'error', 'upstream returned 502 Bad Gateway', ''),
  concat('key_', toString(h % 24)), concat(team, '-', arrayElement(['prod', 'staging', 'batch'], 1 + h % 3)),
  team, feature, concat('user', toString(h % {USERS}), '@example.com'), if(h % 10 = 0, 'staging', 'prod'),
  map('session', concat('s-', toString(intDiv(n, 7))), 'app_version', concat('2.', toString(h % 9))),
  concat('pc-', feature), provider, model, model, if(retried, 'targets[1]', 'targets[0]'),
  if(retried, ['targets[0]', 'targets[1]'], ['targets[0]']), if(retried, [provider, provider], [provider]),
  if(retried, [model, model], [model]), if(retried, [toUInt16(503), toUInt16(200)], [toUInt16(if(st = 'error', 502, 200))]),
  if(retried, ['upstream_error', ''], [if(st = 'error', 'upstream_error', '')]),
  if(retried, ['503 overloaded', ''], [if(st = 'error', '502 Bad Gateway', '')]),
  if(retried, [started + toIntervalMillisecond(12), started + toIntervalMillisecond(300)], [started + toIntervalMillisecond(12)]),
  if(retried, [250.0, dur - 320], [dur - 20]), if(retried, [toUInt16(0), toUInt16(1)], [toUInt16(0)]),
  toUInt16(retried), h % 3 = 0, if(cached, 'HIT', if(h % 5 = 0, 'DISABLED', 'MISS')),
  if(st = 'ok', 'stop', ''), in_tok, out_tok, toUInt32(in_tok * 0.3 * (h % 2)), 0, toUInt32(out_tok * 0.1 * (h % 4 = 0)),
  if(cached, 0, toUInt64(in_tok * arrayElement({price_in}, mi) + out_tok * arrayElement({price_out}, mi))),
  arrayElement({price_in}, mi) > 0,
  multiIf(st = 'denied', 'denied', g < 6, 'redacted', g < 10, 'flagged', g < 90, 'passed', 'none'),
  if(st = 'denied' OR g < 10, ['pii'], []), if(h % 8 = 0, 'metadata', 'full'),
  if(h % 8 = 0, '', concat('{{"model":"', model, '","messages":[{{"role":"system","content":"You are a helpful assistant."}},',
     '{{"role":"user","content":"', arrayElement({_array(PROMPTS)}, 1 + bitShiftRight(h, 7) % {len(PROMPTS)}), ' (ticket ', toString(n), ')"}}]}}')),
  if(h % 8 = 0 OR st != 'ok', '', concat('{{"id":"chatcmpl-', lower(hex(cityHash64(n, 'c'))), '","choices":[{{"index":0,',
     '"message":{{"role":"assistant","content":"Here is the result for ticket ', toString(n), '."}},"finish_reason":"stop"}}],',
     '"usage":{{"prompt_tokens":', toString(in_tok), ',"completion_tokens":', toString(out_tok), '}}}}')),
  'openai-python/1.82.0', concat('10.0.', toString(h % 16), '.', toString(bitShiftRight(h, 4) % 250))
FROM (
  SELECT number AS n, cityHash64(number) AS h, bitShiftRight(h, 11) % 10000 / 10000.0 AS u1, bitShiftRight(h, 25) % 10000 / 10000.0 AS u2,
    bitShiftRight(h, 40) % 100 AS g,
    toDateTime64(now64(6, 'UTC') - toIntervalMicrosecond(number * {step_us} + (h % 1000000)), 6, 'UTC') AS started,
    arrayElement({_array(TEAMS)}, 1 + h % {len(TEAMS)}) AS team,
    arrayElement({_array(FEATURES)}, 1 + bitShiftRight(h, 5) % {len(FEATURES)}) AS feature,
    1 + (bitShiftRight(h, 9) % 100) % {len(MODELS)} AS mi, arrayElement({providers}, mi) AS provider,
    arrayElement({models}, mi) AS model,
    multiIf(bitShiftRight(h, 33) % 1000 < 935, 'ok', bitShiftRight(h, 33) % 1000 < 975, 'error', bitShiftRight(h, 33) % 1000 < 993, 'denied', 'cancelled') AS st,
    bitShiftRight(h, 45) % 100 < 5 AND st = 'ok' AS retried, bitShiftRight(h, 50) % 100 < 8 AND st = 'ok' AS cached,
    if(cached, 3 + u1 * 10, 180 + (-log(1 - u1 * 0.999)) * 900 + if(retried, 400, 0)) AS dur,
    toUInt32(200 + bitShiftRight(h, 17) % 3000) AS in_tok, toUInt32(if(st = 'ok', 20 + bitShiftRight(h, 29) % 800, 0)) AS out_tok
  FROM numbers({start}, {count})
)
"""


def spans_sql(db: str) -> str:
    """Per request: a SERVER span, an input guardrail span and one CLIENT span per attempt (from the rows)."""
    return f"""
INSERT INTO {db}.spans (trace_id, span_id, parent_span_id, name, kind, started_at, ended_at, duration_ms,
  status_code, status_message, attributes, events_json, service_name, request_id)
SELECT trace_id, if(k = 0, span_id, lower(hex(cityHash64(span_id, k)))), if(k = 0, '', span_id),
  multiIf(k = 0, 'POST /v1/chat/completions', k = 1, 'guardrail pii', concat('chat ', model_served)),
  multiIf(k = 0, 'SERVER', k = 1, 'INTERNAL', 'CLIENT'),
  multiIf(k = 0, started_at, k = 1, started_at + toIntervalMicrosecond(1500), attempt_started_at[k - 1]),
  multiIf(k = 0, started_at + toIntervalMicrosecond(toUInt64(duration_ms * 1000)),
          k = 1, started_at + toIntervalMicrosecond(9500),
          attempt_started_at[k - 1] + toIntervalMicrosecond(toUInt64(attempt_latency_ms[k - 1] * 1000))),
  multiIf(k = 0, duration_ms, k = 1, 8.0, attempt_latency_ms[k - 1]),
  multiIf(k = 0 AND status = 'error', 'ERROR', k >= 2 AND attempt_status[k - 1] >= 500, 'ERROR', 'OK'),
  if(k >= 2, attempt_error_message[k - 1], ''),
  multiIf(k = 0, map('http.request.method', 'POST', 'http.response.status_code', toString(http_status),
                     'portcullis.team', team, 'portcullis.request_id', request_id),
          k = 1, map('portcullis.guardrail.check', 'pii', 'portcullis.guardrail.stage', 'input'),
          map('gen_ai.operation.name', 'chat', 'gen_ai.provider.name', provider, 'gen_ai.request.model', model_requested,
              'gen_ai.usage.input_tokens', toString(input_tokens), 'gen_ai.usage.output_tokens', toString(output_tokens),
              'http.response.status_code', toString(attempt_status[k - 1]))),
  '[]', 'portcullis', request_id
FROM {db}.requests ARRAY JOIN range(toUInt8(length(attempt_status) + 2)) AS k
SETTINGS max_block_size = 65536
"""


def guardrails_sql(db: str) -> str:
    """One input `pii` check per request with findings for redacted, flagged and denied requests."""
    return f"""
INSERT INTO {db}.guardrail_results (request_id, trace_id, started_at, stage, check_id, check_name, verdict, action,
  entity_types, finding_count, findings_json, latency_ms, error_message, team, feature, key_id)
SELECT request_id, trace_id, started_at, if(cityHash64(request_id) % 5 = 0, 'output', 'input'),
  arrayElement(['pii', 'pii', 'secrets', 'prompt_injection'], 1 + cityHash64(request_id, 'c') % 4), '',
  if(guardrail_outcome IN ('redacted', 'flagged', 'denied'), 'failed', 'passed'),
  multiIf(guardrail_outcome = 'denied', 'deny', guardrail_outcome = 'redacted', 'redact',
          guardrail_outcome = 'flagged', 'flag', 'none'),
  if(guardrail_outcome IN ('redacted', 'flagged', 'denied'),
     [arrayElement(['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'API_KEY'],
                   1 + cityHash64(request_id, 'e') % 6)], []),
  toUInt32(guardrail_outcome IN ('redacted', 'flagged', 'denied')),
  if(guardrail_outcome IN ('redacted', 'flagged', 'denied'), '[{{"type":"EMAIL_ADDRESS","start":42,"end":61,"score":0.98}}]', '[]'),
  2 + cityHash64(request_id) % 20, '', team, feature, key_id
FROM {db}.requests WHERE guardrail_outcome != 'none'
"""


def seed(store: Store, total: int, *, days: int = 30, chunk: int = 250_000, log: bool = True) -> float:
    """Insert `total` requests in chunks; returns seconds taken."""
    begin = time.perf_counter()
    db = store.database
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        store.command(requests_sql(db, start, count, total, days))
        if log:
            print(f"  seeded {start + count:,}/{total:,} requests ({time.perf_counter() - begin:.1f} s)", flush=True)
    store.command(spans_sql(db))
    store.command(guardrails_sql(db))
    if log:
        print(f"  spans and guardrail rows ({time.perf_counter() - begin:.1f} s)", flush=True)
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="chdb://./.portcullis/ui-bench")
    parser.add_argument("--database", default="portcullis")
    parser.add_argument("-n", "--requests", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    store = Store.connect(StoreConfig(dsn=args.dsn, database=args.database))
    store.migrate()
    seconds = seed(store, args.requests, days=args.days)
    rows = store.query(f"SELECT (SELECT count() FROM {args.database}.requests), "
                       f"(SELECT count() FROM {args.database}.spans), "
                       f"(SELECT count() FROM {args.database}.guardrail_results)")[0]
    print(f"seeded {rows[0]:,} requests, {rows[1]:,} spans, {rows[2]:,} guardrail rows in {seconds:.1f} s")


if __name__ == "__main__":
    main()
