"""Deny-by-default access for the UI: the router guard, error pages, and the login and logout handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from ui import auth
from ui.context import SECURITY_HEADERS, UiContext, Viewer, client_ip

PUBLIC = "ui_public"
ADMIN_ONLY = "ui_admin"


class LoginRequired(NotAuthorizedException):
    """No valid session: pages redirect to the login form, other requests get 401."""


def make_guard(ctx: UiContext) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """The router guard: a valid session unless the route is explicitly public; admin routes need the admin role."""

    def ui_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get(PUBLIC):
            return
        viewer = ctx.viewer(connection)
        if viewer is None:
            raise LoginRequired()
        if handler.opt.get(ADMIN_ONLY) and not viewer.is_admin:
            raise PermissionDeniedException("admin only")
        connection.state["ui_viewer"] = viewer

    return ui_guard


def viewer_of(request: Request[Any, Any, Any]) -> Viewer:
    """The viewer the guard stored on this request."""
    viewer: Viewer = request.state["ui_viewer"]
    return viewer


def make_error_handler(ctx: UiContext) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    """HTML error pages (never the gateway's JSON error shape); page loads without a session go to the login."""

    def handle_ui_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if isinstance(exc, LoginRequired) and request.method == "GET" and "hx-request" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return Redirect(f"{ctx.base}/login?next={quote(target, safe='')}", status_code=303,
                            headers=SECURITY_HEADERS)
        messages = {401: "Please sign in.", 403: "You do not have access to this page.",
                    404: "Not found, or not visible to you.", 429: "Too many attempts. Try again later."}
        viewer = ctx.viewer(request) if status != 401 else None
        response = ctx.render("error.html", viewer=viewer, status_code=status,
                              message=messages.get(status, "Something went wrong."))
        if isinstance(exc, LoginRequired):
            response.headers["HX-Redirect"] = f"{ctx.base}/login"
        return response

    return handle_ui_error


def _safe_next(ctx: UiContext, raw: str | None) -> str:
    """Only same-site UI paths are accepted as a post-login destination."""
    if raw and raw.startswith(ctx.base + "/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return f"{ctx.base}/traces"


@get("/login", opt={PUBLIC: True}, name="ui_login_form")
async def login_form(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[str]:
    nonce = request.cookies.get(auth.CSRF_COOKIE) or auth.new_csrf_nonce()
    response = ui.render("login.html", viewer=None, csrf_binding=nonce, error="",
                         next=_safe_next(ui, request.query_params.get("next")))
    response.set_cookie(auth.CSRF_COOKIE, nonce, path=ui.base, httponly=True, samesite="strict",
                        secure=ui.cookie_secure(request), max_age=3600)
    return response


@post("/login", opt={PUBLIC: True}, name="ui_login", status_code=303)
async def login(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[Any]:
    form = await request.form()
    username = str(form.get("username", ""))[:128]
    password = str(form.get("password", ""))[:1024]
    nonce = request.cookies.get(auth.CSRF_COOKIE)
    if not ui.signer.csrf_ok(nonce, str(form.get("csrf_token", ""))):
        raise PermissionDeniedException("CSRF token missing or invalid")
    ip = client_ip(request)
    next_path = _safe_next(ui, str(form.get("next", "")))
    if not ui.limiter.allowed(ip, username):
        ui.record(request, actor=username, role="", action="login_blocked", detail="rate limited")
        return ui.render("login.html", viewer=None, csrf_binding=nonce, status_code=429, next=next_path,
                         error="Too many failed attempts. Wait a few minutes and try again.")
    user = ui.settings.users.get(username)
    if not auth.verify_password(user, password, ui.hasher, ui.dummy_hash) or user is None:
        ui.limiter.record_failure(ip, username)
        ui.record(request, actor=username, role="", action="login_failed")
        return ui.render("login.html", viewer=None, csrf_binding=nonce, status_code=401, next=next_path,
                         error="Wrong username or password.")
    ui.limiter.record_success(username)
    session = auth.new_session(username, ui.settings.session_ttl_s)
    ui.record(request, actor=username, role=user.role, action="login", target=session.sid[:8])
    response: Response[Any] = Redirect(next_path, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(auth.SESSION_COOKIE, ui.signer.sign_session(session), path=ui.base, httponly=True,
                        samesite="strict", secure=ui.cookie_secure(request), max_age=ui.settings.session_ttl_s)
    response.set_cookie(auth.CSRF_COOKIE, auth.new_csrf_nonce(), path=ui.base, httponly=True, samesite="strict",
                        secure=ui.cookie_secure(request), max_age=3600)
    return response


@post("/logout", name="ui_logout", status_code=303)
async def logout(request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[Any]:
    viewer = viewer_of(request)
    form = await request.form()
    if not ui.signer.csrf_ok(viewer.sid, str(form.get("csrf_token", ""))):
        raise PermissionDeniedException("CSRF token missing or invalid")
    ui.record(request, actor=viewer.name, role=viewer.role, action="logout", target=viewer.sid[:8])
    ui.revoke(viewer.sid, viewer.exp)
    response: Response[Any] = Redirect(f"{ui.base}/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(auth.SESSION_COOKIE, path=ui.base)
    return response
