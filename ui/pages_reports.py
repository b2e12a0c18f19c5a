"""Report pages: spend, guardrail hits, usage against the plan, and the admin-only audit trail."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from ui import queries, svg, views
from ui.access import ADMIN_ONLY, viewer_of
from ui.context import UiContext

REPORT_RANGES = {"7d": 7, "30d": 30, "90d": 90}


def _range(request: Request[Any, Any, Any]) -> tuple[str, date, list[date]]:
    key = request.query_params.get("range", "30d")
    key = key if key in REPORT_RANGES else "30d"
    today = datetime.now(UTC).date()
    since = today - timedelta(days=REPORT_RANGES[key] - 1)
    return key, since, [since + timedelta(days=i) for i in range(REPORT_RANGES[key])]


def _day_label(day: date) -> str:
    return day.strftime("%b %d")


@get("/cost", name="ui_cost")
async def cost(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    viewer = viewer_of(request)
    key, since, days = _range(request)
    by_day = {row[0]: row for row in await queries.cost_by_day(ui.query, ui.database, viewer.teams, since)}
    spend = [float(by_day[d][1]) if d in by_day else 0.0 for d in days]
    requests = [float(by_day[d][2]) if d in by_day else 0.0 for d in days]
    labels = [_day_label(d) for d in days]
    tables = {}
    for dimension in ("feature", "team", "model", "provider"):
        tables[dimension] = await queries.cost_by_dimension(ui.query, ui.database, viewer.teams, since, dimension)
    keys = await queries.cost_by_key(ui.query, ui.database, viewer.teams, since)
    total = sum(spend)
    unpriced = [row for row in tables["model"] if row[5] > 0]
    return ui.render(
        "cost.html", viewer=viewer, active="cost", range_key=key, ranges=list(REPORT_RANGES), total=total,
        total_requests=sum(requests), unpriced_requests=sum(float(by_day[d][3]) for d in by_day),
        spend_chart=svg.bar_chart(labels, spend, views.usd, "Spend per day"),
        request_chart=svg.line_chart(labels, {"requests": requests}, views.count, "Requests per day"),
        tables=tables, keys=keys, unpriced=unpriced, share=svg.share)


@get("/guardrails", name="ui_guardrails")
async def guardrails(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    viewer = viewer_of(request)
    key, since, days = _range(request)
    hits = await queries.guardrail_hits_by_day(ui.query, ui.database, viewer.teams, since)
    per_check: dict[str, dict[date, float]] = {}
    for day, check, n in hits:
        per_check.setdefault(check, {})[day] = float(n)
    top = sorted(per_check, key=lambda c: -sum(per_check[c].values()))
    series = {check: [per_check[check].get(d, 0.0) for d in days] for check in top[: len(svg.SERIES_CLASSES)]}
    by_check = await queries.guardrail_by_check(ui.query, ui.database, viewer.teams, since)
    by_entity = await queries.guardrail_by_entity(ui.query, ui.database, viewer.teams, since)
    denied = await queries.guardrail_denied(ui.query, ui.database, viewer.teams, since)
    actions = {"deny": sum(r[4] for r in by_check), "redact": sum(r[5] for r in by_check),
               "flag": sum(r[6] for r in by_check)}
    stages: dict[str, int] = {}
    for row in by_check:
        stages[row[1]] = stages.get(row[1], 0) + int(row[3])
    return ui.render(
        "guardrails.html", viewer=viewer, active="guardrails", range_key=key, ranges=list(REPORT_RANGES),
        hits_chart=svg.line_chart([_day_label(d) for d in days], series, views.count, "Hits per day by check"),
        by_check=by_check, by_entity=by_entity, denied=denied, actions=actions, stages=sorted(stages.items()),
        entity_total=sum(r[1] for r in by_entity), share=svg.share)


def blocks_cost(logs: float, plan: Any) -> float:
    """USD for `logs` recorded logs in one month under the plan (started blocks beyond the free allowance)."""
    billable = max(0.0, logs - plan.free_logs_per_month)
    return math.ceil(billable / plan.block_size) * plan.price_per_block_usd if plan.block_size > 0 else 0.0


@get("/usage", name="ui_usage")
async def usage(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    viewer = viewer_of(request)
    now = datetime.now(UTC)
    month_start = now.date().replace(day=1)
    first = (month_start - timedelta(days=62)).replace(day=1)
    rows = await queries.usage_by_team_month(ui.query, ui.database, viewer.teams, first)
    split = {r[0]: (r[1], r[2]) for r in await queries.usage_policy_split(ui.query, ui.database, viewer.teams,
                                                                             month_start)}
    months = sorted({r[1] for r in rows} | {month_start})
    teams: dict[str, dict[date, float]] = {}
    for team, month, n in rows:
        teams.setdefault(team, {})[month] = float(n)
    days_in_month = calendar.monthrange(now.year, now.month)[1]
    elapsed = (now - datetime(now.year, now.month, 1, tzinfo=UTC)).total_seconds() / 86400
    fraction = max(elapsed / days_in_month, 1 / (days_in_month * 24))
    plan = ui.settings.plan
    lines = []
    for team in sorted(teams):
        current = teams[team].get(month_start, 0.0)
        projected = current / fraction
        lines.append(dict(team=team, history=[teams[team].get(m, 0.0) for m in months], current=current,
                          projected=projected, cost=blocks_cost(current, plan),
                          projected_cost=blocks_cost(projected, plan), full=split.get(team, (0, 0))[0],
                          metadata_only=split.get(team, (0, 0))[1],
                          allowance_share=svg.share(min(current, plan.free_logs_per_month),
                                                    plan.free_logs_per_month)))
    return ui.render("usage.html", viewer=viewer, active="usage", plan=plan, lines=lines,
                     months=[m.strftime("%b %Y") for m in months], month=month_start.strftime("%B %Y"),
                     elapsed_pct=round(100 * fraction, 1))


@get("/audit", name="ui_audit", opt={ADMIN_ONLY: True})
async def audit(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    viewer = viewer_of(request)
    actor = request.query_params.get("actor", "")[:128]
    action = request.query_params.get("action", "")[:64]
    events = await queries.audit_events(ui.query, ui.database, actor, action, 200)
    ui.record(request, actor=viewer.name, role=viewer.role, action="view_audit",
              detail=f"actor={actor} action={action}")
    return ui.render("audit.html", viewer=viewer, active="audit", events=events, actor=actor, action=action)
