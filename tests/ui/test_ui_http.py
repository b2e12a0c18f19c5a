"""The UI over real HTTP: deny-by-default route walk, login and CSRF, team scoping, audit rows, filters, paging."""

from __future__ import annotations

import re
from typing import Any

import httpx
from litestar.routes import HTTPRoute

PUBLIC_PATHS = {"/ui/login", "/ui/static/{name:str}"}


def _client() -> httpx.Client:
    return httpx.Client(timeout=20.0, follow_redirects=False)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "req-0002", path)


def test_ui_every_route_denies_without_a_session(ui_server: Any) -> None:
    routes = [r for r in ui_server.app.routes if isinstance(r, HTTPRoute)]
    assert len(routes) >= 9
    checked = 0
    with _client() as client:
        for route in routes:
            for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
                response = client.request(method, ui_server.url + _concrete(route.path))
                if route.path in PUBLIC_PATHS:
                    assert response.status_code in (200, 403, 404), (method, route.path)
                    continue
                checked += 1
                assert response.status_code in (303, 401, 403), (method, route.path, response.status_code)
                if response.status_code == 303:
                    assert response.headers["location"].startswith("/ui/login?next=")
    assert checked >= 8


def test_ui_headers_and_login_page(ui_server: Any) -> None:
    with _client() as client:
        page = client.get(ui_server.url + "/ui/login")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "pc_csrf" in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        static = client.get(ui_server.url + "/ui/static/htmx.min.js")
        assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"


def test_ui_login_without_csrf_token_fails(ui_server: Any) -> None:
    with _client() as client:
        client.get(ui_server.url + "/ui/login")
        response = client.post(ui_server.url + "/ui/login", data={"username": "admin", "password": "x" * 12})
        assert response.status_code == 403
        forged = client.post(ui_server.url + "/ui/login", data={"username": "admin", "password": "x" * 12,
                                                                "csrf_token": "forged"})
        assert forged.status_code == 403


def test_ui_login_logout_and_logout_needs_csrf(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        response = ui_login(client, ui_server.url, "admin")
        assert response.status_code == 303 and response.headers["location"] == "/ui/traces"
        cookie = response.headers.get_list("set-cookie")[0]
        assert cookie.startswith("pc_session=") and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        assert "Secure" not in cookie  # plain http on loopback; Secure is set when the request came over TLS
        traces = client.get(ui_server.url + "/ui/traces")
        assert traces.status_code == 200
        assert client.post(ui_server.url + "/ui/logout", data={}).status_code == 403
        token = re.search(r'name="csrf_token" value="([^"]+)"', traces.text)
        assert token is not None
        stolen = client.cookies.get("pc_session")
        out = client.post(ui_server.url + "/ui/logout", data={"csrf_token": token.group(1)})
        assert out.status_code == 303
    with _client() as replay:  # the old cookie no longer works after logout
        replay.cookies.set("pc_session", stolen or "", domain="127.0.0.1", path="/ui")
        assert replay.get(ui_server.url + "/ui/traces").status_code == 303
    actions = [row[2] for row in ui_server.audit_rows()]
    assert "login" in actions and "logout" in actions


def test_ui_login_rate_limited_per_user(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        statuses = [ui_login(client, ui_server.url, "nobody-here", "wrong-password").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
    assert any(row[0] == "nobody-here" for row in ui_server.audit_rows("login_blocked"))


def test_ui_auditor_is_scoped_to_their_team(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        assert ui_login(client, ui_server.url, "alice").status_code == 303
        listing = client.get(ui_server.url + "/ui/traces", params={"range": "7d"})
        assert listing.status_code == 200
        assert ui_server.team_a_ids[1] in listing.text
        assert not any(f">{rid}<" in listing.text for rid in ui_server.team_b_ids)
        other = client.get(ui_server.url + f"/ui/traces/{ui_server.team_b_ids[0]}")
        assert other.status_code == 404
        own = client.get(ui_server.url + f"/ui/traces/{ui_server.team_a_ids[1]}")
        assert own.status_code == 200
        assert client.get(ui_server.url + "/ui/audit").status_code == 403
        team_b_filter = client.get(ui_server.url + "/ui/traces", params={"range": "7d", "team": "team-b"})
        assert "No requests match" in team_b_filter.text
        cost = client.get(ui_server.url + "/ui/cost")
        assert cost.status_code == 200 and "team-b" not in cost.text
    views = ui_server.audit_rows("view_trace")
    assert ("alice", "auditor", "view_trace", ui_server.team_a_ids[1], "127.0.0.1") in views
    assert any(r[3] == ui_server.team_b_ids[0] for r in ui_server.audit_rows("view_trace_denied"))


def test_ui_trace_list_filters_sorting_and_keyset_pages(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        assert ui_login(client, ui_server.url, "admin").status_code == 303
        base = ui_server.url + "/ui/traces"
        errors = client.get(base, params={"range": "7d", "status": "error"}).text
        assert "pill-error" in errors and "pill-ok\">ok" not in errors
        search = client.get(base, params={"range": "7d", "q": "Hello number 17"}).text
        assert "req-0017" in search and "req-0016" not in search
        slow = client.get(base, params={"range": "7d", "min_latency_ms": "500"}).text
        assert "req-0059" in slow and "req-0002<" not in slow
        seen: list[str] = []
        url: str | None = base + "?range=7d"
        for _ in range(5):
            if url is None:
                break
            page = client.get(url, headers={"HX-Request": "true", "HX-Target": "results"})
            assert page.status_code == 200 and "<nav" not in page.text  # a fragment for htmx
            seen += re.findall(r'href="/ui/traces/(req-[^"]+)"', page.text)
            more = re.search(r'rel="next" href="([^"]+)"', page.text)
            url = ui_server.url + more.group(1).replace("&amp;", "&") if more else None
        assert len(seen) == 60 and len(set(seen)) == 60
        by_cost = client.get(base, params={"range": "7d", "sort": "cost_nano_usd", "order": "desc"}).text
        first = re.search(r'href="/ui/traces/(req-[^"]+)"', by_cost)
        assert first is not None and first.group(1) == "req-0058"


def test_ui_trace_detail_shows_waterfall_attempts_and_findings(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        assert ui_login(client, ui_server.url, "admin").status_code == 303
        page = client.get(ui_server.url + "/ui/traces/req-0001")
        assert page.status_code == 200
        text = page.text
        assert "POST /v1/chat/completions" in text and "guardrail pii" in text
        assert text.count('class="bar-client"') + text.count('class="bar-error"') == 2  # retry + success
        assert "overloaded" in text and "upstream_error" in text
        assert "EMAIL_ADDRESS" not in text or "@10" in text
        assert "gen_ai.request.model" in text
        hostile = client.get(ui_server.url + "/ui/traces/req-xss-0001").text
        assert "<script>window.__pwned" not in hostile and "&lt;script&gt;" in hostile
        assert "<img src=x" not in hostile


def test_ui_reports_render(ui_server: Any, ui_login: Any) -> None:
    with _client() as client:
        assert ui_login(client, ui_server.url, "admin").status_code == 303
        cost = client.get(ui_server.url + "/ui/cost", params={"range": "7d"})
        assert cost.status_code == 200 and "<svg" in cost.text and "mystery-model" in cost.text
        assert "unpriced" in cost.text
        guard = client.get(ui_server.url + "/ui/guardrails")
        assert guard.status_code == 200 and "EMAIL_ADDRESS" in guard.text and "req-0005" in guard.text
        usage = client.get(ui_server.url + "/ui/usage")
        assert usage.status_code == 200 and "team-a" in usage.text and "off" in usage.text
        audit = client.get(ui_server.url + "/ui/audit")
        assert audit.status_code == 200 and "login" in audit.text
