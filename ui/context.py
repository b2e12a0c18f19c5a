"""The per-router state of the UI (settings, read callable, audit sink, signer, limiter, templates) and rendering."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request, Response

from schemas.log import AuditRow
from schemas.ui import UiSettings
from ui import auth, views

TEMPLATE_DIR = Path(__file__).parent / "templates"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
MAX_REVOKED = 10_000
QueryCallable = Callable[[str, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]
AuditCallable = Callable[[AuditRow], None]


class Viewer(msgspec.Struct, kw_only=True, frozen=True):
    """The logged-in UI user for this request (role and teams always read from the current settings)."""

    name: str
    role: str
    teams: list[str]
    sid: str
    exp: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def template_environment() -> Environment:
    """Jinja with autoescape always on (a test asserts it) and strict undefined names."""
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(usd=views.usd, ms=views.millis, count=views.count, moment=views.moment)
    return env


class UiContext:
    """Everything the UI handlers share; one per router, built by `build_router`."""

    def __init__(self, *, settings: UiSettings, query: QueryCallable, audit: AuditCallable, secret: str,
                 database: str, base_path: str) -> None:
        if not database.replace("_", "").isalnum() or database[0].isdigit():
            raise ValueError(f"invalid database name: {database!r}")
        self.settings = settings
        self.query = query
        self.audit = audit
        self.database = database
        self.base = base_path.rstrip("/")
        self.signer = auth.CookieSigner(secret)
        self.hasher = auth.password_hasher()
        self.dummy_hash = auth.dummy_password_hash(self.hasher)
        self.limiter = auth.LoginRateLimiter(per_ip=settings.login_attempts_per_ip,
                                             per_user=settings.login_attempts_per_user,
                                             window_s=settings.login_window_s)
        self.templates = template_environment()
        self._revoked: OrderedDict[str, int] = OrderedDict()  # sid -> expiry, for sessions ended by logout

    def revoke(self, session_id: str, expires: int) -> None:
        """End a session before its expiry (this process only; bounded: the oldest entries are dropped)."""
        now = int(time.time())
        self._revoked[session_id] = expires
        while self._revoked and (len(self._revoked) > MAX_REVOKED or next(iter(self._revoked.values())) < now):
            self._revoked.popitem(last=False)

    def viewer(self, request: Request[Any, Any, Any]) -> Viewer | None:
        """The user proven by the session cookie, if it is valid and the account still exists."""
        session = self.signer.read_session(request.cookies.get(auth.SESSION_COOKIE))
        if session is None or session.sid in self._revoked:
            return None
        user = self.settings.users.get(session.user)
        if user is None:
            return None
        return Viewer(name=session.user, role=user.role, teams=list(user.teams), sid=session.sid, exp=session.exp)

    def cookie_secure(self, request: Request[Any, Any, Any]) -> bool:
        mode = self.settings.cookie_secure
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    def record(self, request: Request[Any, Any, Any], *, actor: str, role: str, action: str, target: str = "",
               detail: str = "") -> None:
        """Append one audit event (the sink is append-only; a failing sink fails the request)."""
        self.audit(AuditRow(at=datetime.now(UTC), actor=actor[:128], role=role, action=action, target=target[:256],
                            source_ip=client_ip(request), detail=detail[:2000]))

    def render(self, template: str, *, viewer: Viewer | None, status_code: int = 200, active: str = "",
               csrf_binding: str | None = None, **values: Any) -> Response[str]:
        """A full page or a fragment, with the security headers."""
        binding = csrf_binding or (viewer.sid if viewer is not None else None)
        html = self.templates.get_template(template).render(
            base=self.base, viewer=viewer, active=active,
            csrf_token=self.signer.csrf_token(binding) if binding else "", **values)
        return Response(html, status_code=status_code, media_type="text/html; charset=utf-8",
                        headers=SECURITY_HEADERS)


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client is not None else ""
