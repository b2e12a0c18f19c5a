"""Admin JSON API under /admin: create, list, read and revoke virtual keys, and read budget status.

Deny by default: a Router guard and every handler require `Authorization: Bearer <admin token>`, compared in
constant time with `admin_token` (every team) or a `keys.team_admin_tokens` entry (that team only). A team
admin sees other teams' keys as absent (404), never as forbidden, so ids cannot be probed across teams.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.auth import bearer_token
from gateway.errors import AuthenticationError, InvalidRequest, NotFound, PermissionDenied
from gateway.keys.store import key_view
from schemas.keys import BudgetStatusList, KeyCreated, KeyCreateRequest, KeyList, KeyView
from schemas.log import AuditRow

log = logging.getLogger("portcullis.admin")

ADMIN_SECURITY = [{"AdminToken": []}]
ADMIN_COMPONENTS = Components(security_schemes={
    "AdminToken": SecurityScheme(type="http", scheme="bearer", description="The gateway's admin token"),
})
_KEY_ID = re.compile(r"^key_[0-9A-Za-z]{11}$")
_TEAM = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class AdminPrincipal(msgspec.Struct, kw_only=True, frozen=True):
    """Who is calling the admin API: the global admin (team None) or one team's admin."""

    role: str
    team: str | None
    actor: str


def _services(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    return connection.app.state.services


def _same(presented: bytes, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(presented, expected.encode("utf-8"))  # type: ignore[union-attr]


def resolve_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminPrincipal:
    """The admin credential's principal, or AuthenticationError (401) for anything else."""
    services = _services(connection)
    settings = services.settings
    try:
        token = bearer_token(connection.headers)
    except AuthenticationError:
        token = None
    if not token:
        raise AuthenticationError("admin credential required (Authorization: Bearer <admin token>)")
    presented = token.encode("utf-8", "replace")
    resolve = services.secrets
    found: AdminPrincipal | None = None
    if _same(presented, resolve(settings.admin_token)):
        found = AdminPrincipal(role="admin", team=None, actor="admin")
    for team, reference in sorted(settings.keys.team_admin_tokens.items()):  # compare them all: no early exit
        if _same(presented, resolve(reference)) and found is None:
            found = AdminPrincipal(role="team_admin", team=team, actor=f"team_admin:{team}")
    if found is None:
        raise AuthenticationError("invalid admin credential")
    return found


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Router guard: nothing under /admin runs without an admin credential."""
    resolve_principal(connection)


def _keys(request: Request[Any, Any, Any]) -> Any:
    keys = _services(request).keys
    if keys is None or not hasattr(keys, "create"):
        raise PermissionDenied("virtual keys are disabled (set `secret` in the server config)", code="keys_disabled")
    return keys


def _audit(request: Request[Any, Any, Any], principal: AdminPrincipal, action: str, target: str,
           detail: dict[str, Any]) -> None:
    """Write one AuditRow through the injected sink (services.audit, else the log writer)."""
    services = _services(request)
    sink = getattr(services, "audit", None)
    if sink is None and services.writer is not None:
        sink = services.writer.submit
    row = AuditRow(at=datetime.now(UTC), actor=principal.actor, role=principal.role, action=action, target=target,
                   source_ip=request.client.host if request.client else "",
                   detail=msgspec.json.encode(detail).decode())
    if sink is None:
        log.warning("audit sink missing; %s %s by %s not recorded durably", action, target, principal.actor)
        return
    sink(row)


def _visible(principal: AdminPrincipal, team: str) -> bool:
    return principal.team is None or principal.team == team


def _validate(data: KeyCreateRequest) -> None:
    if not _TEAM.match(data.team):
        raise InvalidRequest("team must be 1-128 characters of letters, digits and _.:@-", param="team")
    if data.rpm < 0 or data.tpm < 0:
        raise InvalidRequest("rpm and tpm must be >= 0 (0 = unlimited)", param="rpm")
    if data.budget_usd is not None and not 0 <= data.budget_usd <= 1e9:
        raise InvalidRequest("budget_usd must be between 0 and 1e9", param="budget_usd")
    if data.expires_at is not None and data.expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a timezone (e.g. 2030-01-01T00:00:00Z)", param="expires_at")
    if "team" in data.metadata:
        raise InvalidRequest("metadata may not contain `team`; use the team field", param="metadata")


@post("/keys", summary="Create a virtual key", description="Returns the plaintext key once; only its HMAC is "
      "stored. Team admins may only create keys for their own team.",
      response_headers=[ResponseHeader(name="cache-control", value="no-store")], status_code=201)
async def create_key(request: Request[Any, Any, Any], data: JSONBody[KeyCreateRequest]) -> KeyCreated:
    """POST /admin/keys."""
    principal = resolve_principal(request)
    _validate(data)
    if not _visible(principal, data.team):
        raise PermissionDenied("a team admin may only create keys for its own team", param="team")
    plaintext, row = await _keys(request).create(data)
    _audit(request, principal, "key_create", row.key_id, {"team": row.team, "name": row.name,
                                                           "prefix": row.prefix})
    return KeyCreated(key=plaintext, record=key_view(row))


@get("/keys", summary="List virtual keys", description="Prefixes and limits, never the secret or its hash.",
    )
async def list_keys(request: Request[Any, Any, Any], team: FromQuery[str | None] = None) -> KeyList:
    """GET /admin/keys[?team=T]."""
    principal = resolve_principal(request)
    if principal.team is not None:
        team = principal.team
    rows = await _keys(request).list_keys(team)
    return KeyList(keys=[key_view(row) for row in rows])


async def _owned(request: Request[Any, Any, Any], principal: AdminPrincipal, key_id: str) -> Any:
    if not _KEY_ID.match(key_id):
        raise NotFound("no such key")
    row = await _keys(request).get(key_id)
    if row is None or not _visible(principal, row.team):
        raise NotFound("no such key")
    return row


@get("/keys/{key_id:str}", summary="Read one virtual key")
async def get_key(request: Request[Any, Any, Any], key_id: FromPath[str]) -> KeyView:
    """GET /admin/keys/{key_id}."""
    principal = resolve_principal(request)
    return key_view(await _owned(request, principal, key_id))


@delete("/keys/{key_id:str}", summary="Revoke a virtual key", description="Effective at once on this replica "
        "and within keys.refresh_interval_s on every other.", status_code=200)
async def revoke_key(request: Request[Any, Any, Any], key_id: FromPath[str]) -> KeyView:
    """DELETE /admin/keys/{key_id}."""
    principal = resolve_principal(request)
    await _owned(request, principal, key_id)
    row = await _keys(request).revoke(key_id)
    if row is None:
        raise NotFound("no such key")
    _audit(request, principal, "key_revoke", key_id, {"team": row.team, "prefix": row.prefix})
    return key_view(row)


@get("/budgets", summary="Budget status", description="Spend, reservations and fired alerts of every key and "
     "team budget in its current period.")
async def budgets(request: Request[Any, Any, Any]) -> BudgetStatusList:
    """GET /admin/budgets."""
    principal = resolve_principal(request)
    limits = _services(request).limits
    if limits is None:
        return BudgetStatusList(budgets=[])
    return BudgetStatusList(budgets=limits.budget_status(principal.team))


def admin_router() -> Router:
    """All admin routes under /admin, behind the admin guard (register with the app's route handlers)."""
    return Router(path="/admin", route_handlers=[create_key, list_keys, get_key, revoke_key, budgets],
                  guards=[admin_guard], tags=["admin"], security=ADMIN_SECURITY, include_in_schema=True)

