"""UI building blocks without a server: passwords, signed sessions, CSRF, rate limits, filters, charts, escaping."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from schemas.settings import PortcullisSettings
from schemas.ui import UiSettings, UiUser
from ui import add_user, auth, hash_password, svg, views
from ui.context import template_environment
from ui.filters import TraceFilter, parse_trace_filter
from ui.queries import keyset_clause, like_pattern, trace_where


def test_ui_jinja_autoescape_is_on_and_model_text_is_escaped() -> None:
    env = template_environment()
    assert env.autoescape is True
    html = env.from_string("<pre>{{ body }}</pre>").render(body='<script>alert(1)</script><img src=x onerror="x">')
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;img" in html


def test_ui_templates_never_mark_text_safe() -> None:
    from ui.context import TEMPLATE_DIR
    for template in TEMPLATE_DIR.glob("*.html"):
        text = template.read_text()
        assert "|safe" not in text and "| safe" not in text and "Markup" not in text, template.name
        assert " style=" not in text and "<script>" not in text and " on" + "click" not in text, template.name


def test_ui_password_hash_is_argon2id_and_add_user_returns_new_settings() -> None:
    hashed = hash_password("long enough password")
    assert hashed.startswith("$argon2id$")
    hasher = auth.password_hasher()
    dummy = auth.dummy_password_hash(hasher)
    user = UiUser(password_hash=hashed, role="admin")
    assert auth.verify_password(user, "long enough password", hasher, dummy)
    assert not auth.verify_password(user, "wrong password", hasher, dummy)
    assert not auth.verify_password(None, "long enough password", hasher, dummy)
    with pytest.raises(ValueError):
        hash_password("short")
    settings = add_user(UiSettings(), "bob", "another long password", role="auditor", teams=["b", "a", "a"])
    assert settings.users["bob"].role == "auditor" and settings.users["bob"].teams == ["a", "b"]
    with pytest.raises(ValueError):
        add_user(settings, "bad name!", "another long password")
    with pytest.raises(ValueError):
        add_user(settings, "carol", "another long password", role="root")
    decoded = msgspec.json.decode(msgspec.json.encode(PortcullisSettings(ui=settings)), type=PortcullisSettings)
    assert decoded.ui.users["bob"].password_hash == settings.users["bob"].password_hash


def test_ui_session_cookie_is_signed_expiring_and_purpose_bound() -> None:
    signer = auth.CookieSigner("s" * 32)
    session = auth.new_session("alice", 60)
    cookie = signer.sign_session(session)
    assert signer.read_session(cookie) == session
    assert signer.read_session(cookie, now=time.time() + 120) is None
    mac = cookie.rsplit(".", 1)[1]
    forged = msgspec.json.encode(auth.Session(user="admin", sid=session.sid, exp=session.exp))
    forged_payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    assert signer.read_session(f"{forged_payload}.{mac}") is None
    assert auth.CookieSigner("t" * 32).read_session(cookie) is None
    assert signer.read_session("garbage") is None and signer.read_session(None) is None
    assert not signer.csrf_ok(session.sid, mac)  # a session MAC is not a CSRF token
    assert signer.csrf_ok(session.sid, signer.csrf_token(session.sid))
    assert not signer.csrf_ok(None, signer.csrf_token(session.sid))
    with pytest.raises(ValueError):
        auth.CookieSigner("short")


def test_ui_login_rate_limiter_per_ip_and_user_with_window() -> None:
    limiter = auth.LoginRateLimiter(per_ip=5, per_user=2, window_s=60)
    limiter.record_failure("1.1.1.1", "Bob", now=0)
    limiter.record_failure("1.1.1.1", "bob", now=1)
    assert not limiter.allowed("2.2.2.2", "BOB", now=2)  # per user, case-insensitive
    assert limiter.allowed("1.1.1.1", "eve", now=2)
    assert limiter.allowed("2.2.2.2", "bob", now=62)  # window passed
    for n in range(5):
        limiter.record_failure("3.3.3.3", f"user{n}", now=100)
    assert not limiter.allowed("3.3.3.3", "fresh", now=101)  # per IP
    bounded = auth.LoginRateLimiter(per_ip=5, per_user=5, window_s=60, max_keys=10)
    for n in range(100):
        bounded.record_failure(f"10.0.0.{n}", f"u{n}", now=0)
    assert len(bounded._failures) <= 10


def test_ui_filters_round_trip_through_the_query_string() -> None:
    f = parse_trace_filter({"range": "7d", "status": "error", "model": "gpt-4o", "min_cost_usd": "0.5",
                            "q": "hello", "sort": "duration_ms", "order": "asc", "bogus": "x"})
    again = parse_trace_filter(dict(pair.split("=", 1) for pair in f.query_string().split("&")))
    assert again == f
    assert parse_trace_filter({"status": "DROP TABLE", "sort": "1; --", "range": "99y"}) == TraceFilter()
    assert parse_trace_filter({"min_latency_ms": "nan"}).min_latency_ms is None
    custom = parse_trace_filter({"range": "custom", "since": "2026-01-02T03:04"})
    assert custom.since == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert TraceFilter().active() is False and f.active() is True


def test_ui_where_clause_is_parameterised() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    f = parse_trace_filter({"team": "a' OR 1=1 --", "q": "50%_off\\", "key": "k"})
    where, params = trace_where(f, ["team-a"], now)
    assert "OR 1=1" not in where and params["f_team"] == "a' OR 1=1 --"
    assert params["f_q"] == "%50\\%\\_off\\\\%" and like_pattern("x") == "%x%"
    assert params["scope_teams"] == ["team-a"] and "{scope_teams:Array(String)}" in where
    cursor = parse_trace_filter({"after": "2026-05-01 00:00:00.000001~req-1"})
    extra: dict[str, object] = {}
    assert keyset_clause(cursor, extra).startswith("(started_at, request_id) <")
    assert extra == {"k_value": "2026-05-01 00:00:00.000001", "k_id": "req-1"}
    assert keyset_clause(parse_trace_filter({"after": "junk~id"}), {}) == "1"
    assert keyset_clause(parse_trace_filter({"after": "x~id", "sort": "cost_nano_usd"}), {}) == "1"


def test_ui_svg_charts_have_axes_and_scaled_geometry() -> None:
    assert svg.nice_ticks(87) == [0.0, 25.0, 50.0, 75.0, 100.0]
    chart = svg.bar_chart(["a", "b", "c"], [1.0, 2.0, 4.0], str, "t")
    assert len(chart.bars) == 3 and chart.bars[2].height > chart.bars[0].height * 3.9
    assert all(chart.left <= b.x <= chart.plot_right for b in chart.bars)
    assert chart.y_ticks[0].label == "0.0" and not chart.empty
    assert svg.bar_chart([], [], str).empty and svg.bar_chart(["a"], [0.0], str).empty
    lines = svg.line_chart(["d1", "d2"], {"x": [0.0, 10.0], "y": [5.0, 5.0]}, str)
    assert [s.css_class for s in lines.series] == ["s0", "s1"] and len(lines.series[0].dots) == 2
    assert svg.share(1, 4) == 25.0 and svg.share(1, 0) == 0.0


def test_ui_waterfall_orders_tree_and_scales_bars() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def span(span_id: str, parent: str, start_ms: float, dur_ms: float, kind: str = "INTERNAL",
             status: str = "OK") -> dict[str, object]:
        return {"span_id": span_id, "parent_span_id": parent, "name": span_id, "kind": kind,
                "started_at": t0 + timedelta(milliseconds=start_ms),
                "ended_at": t0 + timedelta(milliseconds=start_ms + dur_ms), "duration_ms": dur_ms,
                "status_code": status, "status_message": "", "attributes": {"k": "v"}, "events_json": "[]"}

    bars, total = views.waterfall([span("retry", "root", 500, 500, "CLIENT"), span("root", "", 0, 1000, "SERVER"),
                                   span("first", "root", 100, 300, "CLIENT", "ERROR"), span("orphan", "gone", 0, 10)])
    assert total == 1000
    assert [(b.name, b.depth) for b in bars] == [("root", 0), ("first", 1), ("retry", 1), ("orphan", 0)]
    retry = bars[2]
    assert retry.x == 500 and retry.width == 500 and retry.css_class == "bar-client"
    assert bars[1].css_class == "bar-error" and bars[0].css_class == "bar-server"


def test_ui_formats_and_pretty_bodies() -> None:
    assert views.usd(1_500_000_000) == "$1.50" and views.usd(0) == "$0" and views.usd(1234) == "$0.000001"
    assert views.millis(None) == "-" and views.millis(1500) == "1.50 s" and views.millis(3.25) == "3.2 ms"
    assert views.count(1_234_567) == "1.2M"
    assert views.pretty_body('{"a":[1,2]}') == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert views.pretty_body("not json <b>") == "not json <b>"
    assert views.findings('[{"type":"EMAIL_ADDRESS","start":1,"end":5,"score":0.9}]')[0].type == "EMAIL_ADDRESS"
    assert views.findings("broken") == []
