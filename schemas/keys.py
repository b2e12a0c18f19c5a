"""Virtual keys, budgets and rate limits: the settings section, the stored key row and the admin API wire types."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

BudgetPeriod = Literal["day", "week", "month"]
LogPolicy = Literal["full", "metadata", "off"]


class _Strict(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for config types: strict, immutable, keyword-only."""


class TeamLimits(_Strict):
    """Budget and rate limits shared by every key of one team (configured by the operator)."""

    budget_usd: float | None = None
    budget_period: BudgetPeriod = "month"
    rpm: int = 0  # 0 = unlimited
    tpm: int = 0


class FallbackPrice(_Strict):
    """Price (USD per million tokens) assumed for a model with no known price when a budget applies."""

    input: float
    output: float


class KeySettings(_Strict):
    """`keys:` section of portcullis.yaml: refresh cadence, fail-closed TTL, budgets, alerts, team limits."""

    refresh_interval_s: float = 2.0  # how often every replica reloads the key table (revocation latency)
    cache_ttl_s: float = 300.0  # while the store is unreachable, keys loaded within this long keep working
    ledger_interval_s: float = 3.0  # how often spend is reconciled from the `requests` table
    alert_thresholds: tuple[float, ...] = (0.5, 0.8, 1.0)  # fractions of a budget that raise an alert
    default_max_output_tokens: int = 4096  # worst-case output when the request sets no max_tokens
    unpriced_model_price: FallbackPrice | None = None  # None: refuse budgeted requests to unpriced models
    reservation_ttl_s: float = 900.0  # a reservation never settled (a bug) stops counting after this long
    rate_limit_replicas: int = 1  # local rate limits are divided by this (see docs/keys.md, multi-replica)
    teams: dict[str, TeamLimits] = msgspec.field(default_factory=dict)
    team_admin_tokens: dict[str, str] = msgspec.field(default_factory=dict)  # team -> "env:VAR" (team-scoped)


class VirtualKeyRow(msgspec.Struct, kw_only=True, frozen=True):
    """One version of a key as stored in ClickHouse `virtual_keys` (never the plaintext; hmac is internal)."""

    key_id: str
    prefix: str
    hmac: str
    name: str = ""
    team: str = "default"
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    default_config: str = ""
    allowed_models: list[str] = msgspec.field(default_factory=list)
    allowed_configs: list[str] = msgspec.field(default_factory=list)
    budget_usd_nano: int | None = None
    budget_period: str = "month"
    rpm: int = 0
    tpm: int = 0
    log_policy: str = ""
    expires_at: datetime | None = None
    revoked: bool = False
    created_at: datetime
    version: int


class KeyCreateRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """POST /admin/keys body."""

    team: str
    name: str = ""
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    default_config: str | None = None
    allowed_models: list[str] = msgspec.field(default_factory=list)
    allowed_configs: list[str] = msgspec.field(default_factory=list)
    budget_usd: float | None = None
    budget_period: BudgetPeriod = "month"
    rpm: int = 0
    tpm: int = 0
    log_policy: LogPolicy | None = None
    expires_at: datetime | None = None


class KeyView(msgspec.Struct, kw_only=True, frozen=True):
    """A key as the admin API and CLI show it: public id, prefix and limits; never the secret or its HMAC."""

    key_id: str
    prefix: str
    name: str
    team: str
    metadata: dict[str, str]
    default_config: str | None
    allowed_models: list[str]
    allowed_configs: list[str]
    budget_usd: float | None
    budget_period: str
    rpm: int
    tpm: int
    log_policy: str | None
    expires_at: datetime | None
    revoked: bool
    created_at: datetime


class KeyCreated(msgspec.Struct, kw_only=True, frozen=True):
    """POST /admin/keys answer: the plaintext key, shown this once, and its record."""

    key: str
    record: KeyView


class KeyList(msgspec.Struct, kw_only=True, frozen=True):
    """GET /admin/keys answer."""

    keys: list[KeyView]


class BudgetStatus(msgspec.Struct, kw_only=True, frozen=True):
    """Spend of one key or team in its current budget period (GET /admin/budgets)."""

    scope: Literal["key", "team"]
    id: str
    team: str
    period: str
    period_start: datetime
    budget_usd: float
    spent_usd: float
    reserved_usd: float
    remaining_usd: float
    alerts_fired: list[float]


class BudgetStatusList(msgspec.Struct, kw_only=True, frozen=True):
    """GET /admin/budgets answer."""

    budgets: list[BudgetStatus]
