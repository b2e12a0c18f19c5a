"""Config of the server-rendered trace UI: users (argon2id hashes), roles, team scopes, session and billing plan."""

from __future__ import annotations

from typing import Literal

import msgspec


class _Strict(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for config types: strict, immutable, keyword-only."""


class UiUser(_Strict):
    """One UI account from the config file; auditors are read-only and may be scoped to teams."""

    password_hash: str  # argon2id PHC string ($argon2id$v=19$...), made by `portcullis users add`
    role: Literal["admin", "auditor"] = "auditor"
    teams: list[str] = msgspec.field(default_factory=list)  # empty = every team


class UsagePlan(_Strict):
    """What recorded logs cost per team and month: a free allowance, then a price per started block."""

    name: str = "Team"
    free_logs_per_month: int = 100_000
    block_size: int = 100_000
    price_per_block_usd: float = 10.0


class UiSettings(_Strict):
    """The /ui trace browser."""

    enabled: bool = True
    users: dict[str, UiUser] = msgspec.field(default_factory=dict)  # username -> account
    session_ttl_s: int = 8 * 3600
    cookie_secure: Literal["auto", "always", "never"] = "auto"  # auto: Secure when the request came over TLS
    login_attempts_per_ip: int = 20  # failed logins allowed per window per client IP
    login_attempts_per_user: int = 5  # failed logins allowed per window per username
    login_window_s: int = 300
    page_size: int = 50
    plan: UsagePlan = msgspec.field(default_factory=UsagePlan)
