"""Trace pages: the filterable, keyset-paginated request list and the trace detail with its span waterfall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from ui import queries, views
from ui.access import viewer_of
from ui.context import SECURITY_HEADERS, UiContext
from ui.filters import CACHE_STATUSES, GUARDRAIL_OUTCOMES, SORTS, STATUSES, TIME_PRESETS, parse_trace_filter


@get(["/", "/home"], name="ui_home")
async def home(ui: NamedDependency[UiContext]) -> Response[Any]:
    return Redirect(f"{ui.base}/traces", status_code=303, headers=SECURITY_HEADERS)


@get("/traces", name="ui_traces")
async def traces(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    viewer = viewer_of(request)
    f = parse_trace_filter(dict(request.query_params))
    now = datetime.now(UTC)
    started = datetime.now(UTC)
    rows = await queries.list_traces(ui.query, ui.database, f, viewer.teams, now, ui.settings.page_size)
    page = views.trace_rows(rows[: ui.settings.page_size], f.sort)
    values: dict[str, Any] = dict(
        f=f, rows=page, has_next=len(rows) > ui.settings.page_size, sorts=SORTS,
        elapsed_ms=(datetime.now(UTC) - started).total_seconds() * 1000)
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "results":
        return ui.render("_trace_results.html", viewer=viewer, **values)
    options = await queries.filter_options(ui.query, ui.database, viewer.teams, (now - timedelta(days=90)).date())
    return ui.render("traces.html", viewer=viewer, active="traces", options=options, presets=list(TIME_PRESETS),
                     statuses=STATUSES, outcomes=GUARDRAIL_OUTCOMES, cache_statuses=CACHE_STATUSES, **values)


@get("/traces/{request_id:str}", name="ui_trace")
async def trace(request: Request[Any, Any, Any], ui: NamedDependency[UiContext],
                request_id: FromPath[str]) -> Response[str]:
    """One request; every view (found or not) is written to the audit log before anything is shown."""
    viewer = viewer_of(request)
    request_id = request_id[:128]
    row = await queries.trace_row(ui.query, ui.database, request_id, viewer.teams)
    ui.record(request, actor=viewer.name, role=viewer.role, action="view_trace" if row else "view_trace_denied",
              target=request_id)
    if row is None:
        raise NotFoundException()
    spans = await queries.trace_spans(ui.query, ui.database, row["trace_id"], request_id, row["started_at"],
                                      row["duration_ms"])
    guardrails = await queries.trace_guardrails(ui.query, ui.database, request_id, viewer.teams)
    bars, total_ms = views.waterfall(spans)
    checks = [dict(g, findings=views.findings(g["findings_json"])) for g in guardrails]
    return ui.render("trace.html", viewer=viewer, active="traces", r=row, attempts=views.attempts(row), bars=bars,
                     total_ms=total_ms, checks=checks, metadata=sorted(dict(row["metadata"]).items()),
                     request_body=views.pretty_body(row["request_body"]),
                     response_body=views.pretty_body(row["response_body"]), width=views.WATERFALL_WIDTH)
