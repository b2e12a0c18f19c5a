"""Trace-list filters: parsed from (and written back to) the query string so every view is a shareable URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import msgspec

TIME_PRESETS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15), "1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(days=1),
    "7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90),
}
SORTS = ("started_at", "duration_ms", "cost_nano_usd", "total_tokens")
STATUSES = ("ok", "error", "denied", "cancelled")
GUARDRAIL_OUTCOMES = ("none", "passed", "flagged", "redacted", "denied", "error")
CACHE_STATUSES = ("HIT", "MISS", "REFRESH", "DISABLED")
TEXT_FIELDS = ("status", "provider", "model", "team", "feature", "user", "key", "config", "guardrail", "cache", "q")
_MAX_TEXT = 200


class TraceFilter(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the trace list can filter and sort by; empty string = no filter on that field."""

    range: str = "24h"  # a TIME_PRESETS key, or "custom" with since/until
    since: datetime | None = None
    until: datetime | None = None
    status: str = ""
    provider: str = ""
    model: str = ""
    team: str = ""
    feature: str = ""
    user: str = ""
    key: str = ""
    config: str = ""
    guardrail: str = ""
    cache: str = ""
    q: str = ""  # substring of the request or response body
    min_cost_usd: float | None = None
    max_cost_usd: float | None = None
    min_latency_ms: float | None = None
    max_latency_ms: float | None = None
    sort: str = "started_at"
    order: str = "desc"
    after: str = ""  # keyset cursor: "<sort value>~<request_id>"

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The [since, until) time range this filter selects."""
        if self.range == "custom" and self.since is not None:
            return self.since, self.until or now
        return now - TIME_PRESETS.get(self.range, TIME_PRESETS["24h"]), now

    def query_string(self, **changes: object) -> str:
        """This filter as a query string, with some fields changed (e.g. after=... for the next page)."""
        values = msgspec.structs.asdict(self) | changes
        pairs: list[tuple[str, str]] = []
        for name, value in values.items():
            default = getattr(_DEFAULT, name)
            if value is None or value == "" or value == default:
                continue
            pairs.append((name, value.strftime("%Y-%m-%dT%H:%M") if isinstance(value, datetime) else str(value)))
        return urlencode(pairs)

    def active(self) -> bool:
        """True when anything beyond the default time range is filtered."""
        return self.query_string(range=_DEFAULT.range, after="", sort=_DEFAULT.sort, order=_DEFAULT.order) != ""


_DEFAULT = TraceFilter()


def _number(raw: str | None) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e15 else None  # reject NaN and absurd values


def _moment(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw[:32])
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_trace_filter(params: dict[str, str]) -> TraceFilter:
    """A TraceFilter from query parameters; unknown or malformed values fall back to 'no filter'."""
    text = {name: params.get(name, "").strip()[:_MAX_TEXT] for name in TEXT_FIELDS}
    if text["status"] not in STATUSES:
        text["status"] = ""
    if text["guardrail"] not in GUARDRAIL_OUTCOMES:
        text["guardrail"] = ""
    if text["cache"] not in CACHE_STATUSES:
        text["cache"] = ""
    time_range = params.get("range", "24h")
    since, until = _moment(params.get("since")), _moment(params.get("until"))
    if time_range != "custom" and time_range not in TIME_PRESETS:
        time_range = "24h"
    if time_range == "custom" and since is None:
        time_range = "24h"
    sort = params.get("sort", "started_at")
    return TraceFilter(
        range=time_range, since=since if time_range == "custom" else None,
        until=until if time_range == "custom" else None,
        min_cost_usd=_number(params.get("min_cost_usd")), max_cost_usd=_number(params.get("max_cost_usd")),
        min_latency_ms=_number(params.get("min_latency_ms")), max_latency_ms=_number(params.get("max_latency_ms")),
        sort=sort if sort in SORTS else "started_at", order="asc" if params.get("order") == "asc" else "desc",
        after=params.get("after", "")[:300], **text,
    )
