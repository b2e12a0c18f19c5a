"""Every SQL string of the UI, parameterised; each function takes the read callable and a team scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from ui.filters import TraceFilter

QueryFn = Callable[[str, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]

LIST_COLUMNS = (
    "request_id", "trace_id", "started_at", "status", "http_status", "provider",
    "if(model_served != '', model_served, model_requested)", "team", "feature", "user",
    "if(key_name != '', key_name, key_id)", "duration_ms", "ttft_ms", "input_tokens", "output_tokens",
    "cost_nano_usd", "price_known", "cache_status", "guardrail_outcome", "retry_count", "endpoint", "streamed",
)
DETAIL_COLUMNS = (
    "request_id", "trace_id", "span_id", "started_at", "duration_ms", "ttft_ms", "endpoint", "http_status", "status",
    "error_type", "error_message", "key_id", "key_name", "team", "feature", "user", "env", "metadata", "config_id",
    "provider", "model_requested", "model_served", "target_path", "attempt_target_path", "attempt_provider",
    "attempt_model", "attempt_status", "attempt_error_type", "attempt_error_message", "attempt_started_at",
    "attempt_latency_ms", "attempt_retry_index", "retry_count", "streamed", "cache_status", "finish_reason",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_nano_usd", "price_known", "guardrail_outcome", "guardrail_failed", "log_policy", "request_body",
    "response_body", "user_agent", "client_ip",
)
SPAN_COLUMNS = ("span_id", "parent_span_id", "name", "kind", "started_at", "ended_at", "duration_ms",
                "status_code", "status_message", "attributes", "events_json", "request_id")
GUARDRAIL_COLUMNS = ("started_at", "stage", "check_id", "check_name", "verdict", "action", "entity_types",
                     "finding_count", "findings_json", "latency_ms", "error_message")
SORT_EXPRESSIONS = {"started_at": ("started_at", "DateTime64(6, 'UTC')"), "duration_ms": ("duration_ms", "Float64"),
                    "cost_nano_usd": ("cost_nano_usd", "UInt64"),
                    "total_tokens": ("(toUInt64(input_tokens) + output_tokens)", "UInt64")}
DIMENSIONS = {"feature": "feature", "team": "team", "model": "model", "provider": "provider"}


def ch_time(moment: datetime) -> str:
    """A DateTime64(6) literal for a bound parameter (UTC, microseconds kept)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def scope_clause(teams: list[str], params: dict[str, Any], column: str = "team") -> str:
    """`team IN (...)` for a team-scoped user, `1` for an unscoped one."""
    if not teams:
        return "1"
    params["scope_teams"] = list(teams)
    return f"{column} IN {{scope_teams:Array(String)}}"


def trace_where(f: TraceFilter, teams: list[str], now: datetime) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (without keyset) of the trace list, and its parameters."""
    since, until = f.window(now)
    params: dict[str, Any] = {"since": ch_time(since), "until": ch_time(until)}
    clauses = ["started_at >= {since:DateTime64(6, 'UTC')}", "started_at < {until:DateTime64(6, 'UTC')}",
               scope_clause(teams, params)]
    equals = {"status": "status", "provider": "provider", "team": "team", "feature": "feature", "user": "user",
              "config": "config_id", "guardrail": "guardrail_outcome", "cache": "cache_status"}
    for field, column in equals.items():
        value = getattr(f, field)
        if value:
            params[f"f_{field}"] = value
            clauses.append(f"{column} = {{f_{field}:String}}")
    if f.model:
        params["f_model"] = f.model
        clauses.append("(model_served = {f_model:String} OR model_requested = {f_model:String})")
    if f.key:
        params["f_key"] = f.key
        clauses.append("(key_id = {f_key:String} OR key_name = {f_key:String})")
    if f.q:
        params["f_q"] = like_pattern(f.q)
        clauses.append("(request_body LIKE {f_q:String} OR response_body LIKE {f_q:String})")
    for bound, column, op, scale, kind in (("min_cost_usd", "cost_nano_usd", ">=", 1e9, "UInt64"),
                                            ("max_cost_usd", "cost_nano_usd", "<=", 1e9, "UInt64"),
                                            ("min_latency_ms", "duration_ms", ">=", 1.0, "Float64"),
                                            ("max_latency_ms", "duration_ms", "<=", 1.0, "Float64")):
        value = getattr(f, bound)
        if value is not None and value >= 0:
            params[f"f_{bound}"] = int(value * scale) if kind == "UInt64" else float(value)
            clauses.append(f"{column} {op} {{f_{bound}:{kind}}}")
    return " AND ".join(clauses), params


def keyset_clause(f: TraceFilter, params: dict[str, Any]) -> str:
    """`(sort value, request_id) < cursor` (or > for ascending); `1` when the cursor is absent or malformed."""
    if "~" not in f.after:
        return "1"
    raw_value, request_id = f.after.rsplit("~", 1)
    expression, kind = SORT_EXPRESSIONS[f.sort]
    try:
        value: Any = raw_value if kind.startswith("DateTime") else (float(raw_value) if kind == "Float64"
                                                                     else int(raw_value))
        if kind.startswith("DateTime"):
            datetime.fromisoformat(raw_value)
    except ValueError:
        return "1"
    params["k_value"], params["k_id"] = value, request_id
    op = ">" if f.order == "asc" else "<"
    return f"({expression}, request_id) {op} ({{k_value:{kind}}}, {{k_id:String}})"


async def list_traces(query: QueryFn, db: str, f: TraceFilter, teams: list[str], now: datetime,
                      limit: int) -> list[tuple[Any, ...]]:
    """One page of the trace list (limit + 1 rows, so the caller knows whether a next page exists)."""
    where, params = trace_where(f, teams, now)
    keyset = keyset_clause(f, params)
    expression, _ = SORT_EXPRESSIONS[f.sort]
    direction = "ASC" if f.order == "asc" else "DESC"
    params["limit"] = limit + 1
    sql = (f"SELECT {', '.join(LIST_COLUMNS)}, {expression} FROM {db}.requests WHERE {where} AND {keyset} "
           f"ORDER BY {expression} {direction}, request_id {direction} LIMIT {{limit:UInt32}}")
    return await query(sql, params)


async def count_traces(query: QueryFn, db: str, f: TraceFilter, teams: list[str], now: datetime) -> int:
    where, params = trace_where(f, teams, now)
    rows = await query(f"SELECT count() FROM {db}.requests WHERE {where}", params)
    return int(rows[0][0]) if rows else 0


async def filter_options(query: QueryFn, db: str, teams: list[str], since: date) -> dict[str, list[str]]:
    """Distinct providers, models, teams and features seen since `since` (from the small daily rollup)."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT groupUniqArray(50)(provider), groupUniqArray(100)(model), groupUniqArray(100)(team), "
           f"groupUniqArray(100)(feature) FROM {db}.requests_daily WHERE day >= {{since:Date}} AND "
           f"{scope_clause(teams, params)}")
    rows = await query(sql, params)
    names = ("provider", "model", "team", "feature")
    if not rows:
        return {name: [] for name in names}
    return {name: sorted(v for v in values if v) for name, values in zip(names, rows[0], strict=True)}


async def trace_row(query: QueryFn, db: str, request_id: str, teams: list[str]) -> dict[str, Any] | None:
    """The request row by id, or None when it does not exist or is outside the user's teams."""
    params: dict[str, Any] = {"rid": request_id}
    sql = (f"SELECT {', '.join(DETAIL_COLUMNS)} FROM {db}.requests WHERE request_id = {{rid:String}} AND "
           f"{scope_clause(teams, params)} LIMIT 1")
    rows = await query(sql, params)
    return dict(zip(DETAIL_COLUMNS, rows[0], strict=True)) if rows else None


async def trace_spans(query: QueryFn, db: str, trace_id: str, request_id: str, started_at: datetime,
                      duration_ms: float) -> list[dict[str, Any]]:
    """The spans of this request's trace around its lifetime (spans carry no team: the row check comes first)."""
    params: dict[str, Any] = {"tid": trace_id, "rid": request_id,
                              "lo": ch_time(started_at),
                              "pad": 60.0 + duration_ms / 1000}
    sql = (f"SELECT {', '.join(SPAN_COLUMNS)} FROM {db}.spans WHERE trace_id = {{tid:String}} "
           "AND request_id IN ({rid:String}, '') "
           "AND started_at >= {lo:DateTime64(6, 'UTC')} - INTERVAL 5 SECOND "
           "AND started_at <= {lo:DateTime64(6, 'UTC')} + toIntervalSecond(toInt64({pad:Float64})) "
           "ORDER BY started_at, span_id LIMIT 1 BY span_id LIMIT 500")
    return [dict(zip(SPAN_COLUMNS, row, strict=True)) for row in await query(sql, params)]


async def trace_guardrails(query: QueryFn, db: str, request_id: str, teams: list[str]) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"rid": request_id}
    sql = (f"SELECT {', '.join(GUARDRAIL_COLUMNS)} FROM {db}.guardrail_results WHERE request_id = {{rid:String}} "
           f"AND {scope_clause(teams, params)} ORDER BY started_at LIMIT 200")
    return [dict(zip(GUARDRAIL_COLUMNS, row, strict=True)) for row in await query(sql, params)]


async def cost_by_day(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """(day, cost_nano_usd, requests, unpriced) per day from the daily rollup."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT day, sum(cost_nano_usd), sum(requests), sum(unpriced_requests) FROM {db}.requests_daily "
           f"WHERE day >= {{since:Date}} AND {scope_clause(teams, params)} GROUP BY day ORDER BY day")
    return await query(sql, params)


async def cost_by_dimension(query: QueryFn, db: str, teams: list[str], since: date,
                            dimension: str) -> list[tuple[Any, ...]]:
    """(value, cost, requests, input tokens, output tokens, unpriced) for one rollup dimension, top 15 by cost."""
    column = DIMENSIONS[dimension]
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT {column}, sum(cost_nano_usd) AS cost, sum(requests), sum(input_tokens), sum(output_tokens), "
           f"sum(unpriced_requests) FROM {db}.requests_daily WHERE day >= {{since:Date}} AND "
           f"{scope_clause(teams, params)} GROUP BY {column} ORDER BY cost DESC, {column} LIMIT 15")
    return await query(sql, params)


async def cost_by_key(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """(key, cost, requests, unpriced) from the request rows (keys are not in the rollup)."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT if(key_name != '', key_name, key_id) AS k, sum(cost_nano_usd) AS cost, count(), "
           f"countIf(NOT price_known) FROM {db}.requests WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') "
           f"AND {scope_clause(teams, params)} GROUP BY k ORDER BY cost DESC, k LIMIT 15")
    return await query(sql, params)


async def guardrail_hits_by_day(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT toDate(started_at) AS d, check_id, count() FROM {db}.guardrail_results "
           f"WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') AND verdict = 'failed' AND "
           f"{scope_clause(teams, params)} GROUP BY d, check_id ORDER BY d")
    return await query(sql, params)


async def guardrail_by_check(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """(check, stage, runs, hits, deny, redact, flag, errors, avg latency) per check and stage."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT check_id, stage, count(), countIf(verdict = 'failed'), countIf(verdict = 'failed' AND "
           f"action = 'deny'), countIf(verdict = 'failed' AND action = 'redact'), countIf(verdict = 'failed' AND "
           f"action = 'flag'), countIf(verdict = 'error'), avg(latency_ms) FROM {db}.guardrail_results "
           f"WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') AND {scope_clause(teams, params)} "
           f"GROUP BY check_id, stage ORDER BY 4 DESC, check_id, stage LIMIT 50")
    return await query(sql, params)


async def guardrail_by_entity(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT arrayJoin(entity_types) AS entity, count() AS hits FROM {db}.guardrail_results "
           f"WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') AND verdict = 'failed' AND "
           f"{scope_clause(teams, params)} GROUP BY entity ORDER BY hits DESC, entity LIMIT 20")
    return await query(sql, params)


async def guardrail_denied(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """The latest denied requests: (request_id, started_at, check, stage, findings, entity types, team, feature)."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT request_id, started_at, check_id, stage, finding_count, entity_types, team, feature "
           f"FROM {db}.guardrail_results WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') AND "
           f"verdict = 'failed' AND action = 'deny' AND {scope_clause(teams, params)} "
           f"ORDER BY started_at DESC LIMIT 20")
    return await query(sql, params)


async def usage_by_team_month(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """(team, month, recorded requests) from the rollup."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT team, toStartOfMonth(day) AS m, sum(requests) FROM {db}.requests_daily "
           f"WHERE day >= {{since:Date}} AND {scope_clause(teams, params)} GROUP BY team, m ORDER BY team, m")
    return await query(sql, params)


async def usage_policy_split(query: QueryFn, db: str, teams: list[str], since: date) -> list[tuple[Any, ...]]:
    """(team, full-body rows, metadata-only rows) this month."""
    params: dict[str, Any] = {"since": since}
    sql = (f"SELECT team, countIf(log_policy = 'full'), countIf(log_policy != 'full') FROM {db}.requests "
           f"WHERE started_at >= toDateTime64({{since:Date}}, 6, 'UTC') AND {scope_clause(teams, params)} "
           f"GROUP BY team ORDER BY team")
    return await query(sql, params)


async def audit_events(query: QueryFn, db: str, actor: str, action: str, limit: int) -> list[tuple[Any, ...]]:
    """The newest audit events (admin only, never team-scoped), optionally by actor and action."""
    params: dict[str, Any] = {"limit": limit}
    clauses = ["1"]
    if actor:
        params["actor"] = actor
        clauses.append("actor = {actor:String}")
    if action:
        params["action"] = action
        clauses.append("action = {action:String}")
    sql = (f"SELECT at, actor, role, action, target, source_ip, detail FROM {db}.audit_log "
           f"WHERE {' AND '.join(clauses)} ORDER BY at DESC, chain, seq DESC LIMIT {{limit:UInt32}}")
    return await query(sql, params)
