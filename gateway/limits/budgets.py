"""Budget ledger: reserve worst-case cost, settle actual cost, reconcile spend from ClickHouse `requests`.

Per budget scope (a key or a team, in its current period) the ledger holds:
  visible   sum(cost_nano_usd) of the scope's rows in ClickHouse at the last reconcile (every replica's spend)
  pending   request_id -> cost settled here whose row was not yet seen in ClickHouse
  local     cost settled here that will never reach ClickHouse (log policy off) or was folded out of `pending`
  reserved  worst-case cost of requests admitted here and not yet settled
spent = visible + sum(pending) + local; a request is admitted when spent + reserved + worst_case <= budget.
Reconcile rule: one query returns, per scope, the sum AND which of the pending request ids it already
contains; those ids leave `pending` in the same step that sets `visible`, so no cost is counted twice or
missed. Ids settled after the query snapshot stay pending (at worst counted twice for one interval: safe).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

log = logging.getLogger("portcullis.budgets")

NANO_PER_USD = 1_000_000_000
MAX_PENDING_PER_SCOPE = 10_000

AlertSink = Callable[[str, str, float, float, float], None]  # (scope, id, threshold, spent_usd, budget_usd)


class BudgetScope(msgspec.Struct, kw_only=True, frozen=True):
    """One budget in one period: hashable, so it keys the ledger."""

    kind: Literal["key", "team"]
    id: str
    team: str
    period: str
    start: datetime


def period_start(period: str, now: datetime) -> datetime:
    """Start (UTC) of the day, ISO week (Monday) or calendar month containing `now`."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


class _Account:
    """Ledger state of one scope."""

    __slots__ = ("budget", "fired", "local", "pending", "pending_total", "reserved", "visible")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.visible = 0
        self.pending: dict[str, int] = {}
        self.pending_total = 0
        self.local = 0
        self.reserved = 0
        self.fired: list[float] = []

    @property
    def spent(self) -> int:
        return self.visible + self.pending_total + self.local

    def add_pending(self, request_id: str, cost: int) -> None:
        self.pending[request_id] = self.pending.get(request_id, 0) + cost
        self.pending_total += cost
        while len(self.pending) > MAX_PENDING_PER_SCOPE:  # keep the reconcile query bounded; overcount is safe
            oldest = next(iter(self.pending))
            folded = self.pending.pop(oldest)
            self.pending_total -= folded
            self.local += folded

    def drop_seen(self, seen: Iterable[str]) -> None:
        for request_id in seen:
            cost = self.pending.pop(request_id, None)
            if cost is not None:
                self.pending_total -= cost


class Shortfall(msgspec.Struct, kw_only=True, frozen=True):
    """Why a reservation was refused: the first scope that cannot cover it."""

    scope: BudgetScope
    budget: int
    spent: int
    reserved: int


class ReconcileQuery(msgspec.Struct, kw_only=True, frozen=True):
    """One ledger query: scopes of one kind and period start, and the pending ids to look for."""

    kind: Literal["key", "team"]
    start: datetime
    ids: list[str]
    pending: list[str]


# sum over FINAL: a replayed duplicate row (same request_id) is counted once.
_LEDGER_SQL = {
    "key": (
        "SELECT key_id, sum(cost_nano_usd), groupArrayIf(request_id, has({pending:Array(String)}, request_id)) "
        "FROM {db:Identifier}.requests FINAL "
        "WHERE started_at >= toDateTime64({start:String}, 6, 'UTC') AND has({ids:Array(String)}, key_id) "
        "GROUP BY key_id"
    ),
    "team": (
        "SELECT team, sum(cost_nano_usd), groupArrayIf(request_id, has({pending:Array(String)}, request_id)) "
        "FROM {db:Identifier}.requests FINAL "
        "WHERE started_at >= toDateTime64({start:String}, 6, 'UTC') AND has({ids:Array(String)}, team) "
        "GROUP BY team"
    ),
}


def run_reconcile_query(store: Any, query: ReconcileQuery) -> dict[str, tuple[int, list[str]]]:
    """Blocking: id -> (ClickHouse spend, pending ids already present)."""
    rows = store.query(_LEDGER_SQL[query.kind], {
        "db": store.database, "start": query.start.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "ids": query.ids, "pending": query.pending,
    })
    return {str(row[0]): (int(row[1]), [str(item) for item in row[2]]) for row in rows}


class BudgetLedger:
    """In-process reservation ledger plus reconciled spend; every method is synchronous and I/O free."""

    def __init__(self, *, thresholds: Iterable[float] = (0.5, 0.8, 1.0), on_alert: AlertSink | None = None) -> None:
        self._accounts: dict[BudgetScope, _Account] = {}
        self._reservations: dict[str, tuple[tuple[BudgetScope, ...], int, float]] = {}
        self._thresholds = sorted(set(thresholds))
        self._on_alert = on_alert

    def _account(self, scope: BudgetScope, budget: int) -> _Account:
        account = self._accounts.get(scope)
        if account is None:
            account = _Account(budget)
            self._accounts[scope] = account
        else:
            account.budget = budget
        return account

    # ---- request path --------------------------------------------------------------------------------------
    def reserve(self, request_id: str, scopes: list[tuple[BudgetScope, int]], amount: int,
                now: float) -> Shortfall | None:
        """Reserve `amount` in every scope, or nothing (returning the first scope that cannot cover it)."""
        accounts = [(scope, self._account(scope, budget)) for scope, budget in scopes]
        for scope, account in accounts:
            if account.spent + account.reserved + amount > account.budget:
                return Shortfall(scope=scope, budget=account.budget, spent=account.spent, reserved=account.reserved)
        for _, account in accounts:
            account.reserved += amount
        self._reservations[request_id] = (tuple(scope for scope, _ in accounts), amount, now)
        return None

    def settle(self, request_id: str, cost: int, *, reaches_store: bool) -> tuple[BudgetScope, ...]:
        """Release the reservation and book the actual cost; idempotent (a second call does nothing)."""
        reservation = self._reservations.pop(request_id, None)
        if reservation is None:
            return ()
        scopes, amount, _ = reservation
        for scope in scopes:
            account = self._accounts.get(scope)
            if account is None:
                continue
            account.reserved = max(0, account.reserved - amount)
            if cost > 0:
                if reaches_store:
                    account.add_pending(request_id, cost)
                else:
                    account.local += cost
            self._check_alerts(scope, account)
        return scopes

    def expire_reservations(self, older_than: float) -> int:
        """Release reservations made before `older_than` (never settled: a bug elsewhere); returns how many."""
        stale = [rid for rid, (_, _, made) in self._reservations.items() if made < older_than]
        for request_id in stale:
            self.settle(request_id, 0, reaches_store=True)
        if stale:
            log.warning("released %d budget reservations that were never settled", len(stale))
        return len(stale)

    # ---- reconcile -----------------------------------------------------------------------------------------
    def plan(self, scopes: list[tuple[BudgetScope, int]]) -> list[ReconcileQuery]:
        """The queries that refresh these scopes (one per kind and period start)."""
        groups: dict[tuple[str, datetime], tuple[list[str], list[str]]] = {}
        for scope, budget in scopes:
            account = self._account(scope, budget)
            ids, pending = groups.setdefault((scope.kind, scope.start), ([], []))
            ids.append(scope.id)
            pending.extend(account.pending)
        return [ReconcileQuery(kind=kind, start=start, ids=ids, pending=sorted(set(pending)))  # type: ignore[arg-type]
                for (kind, start), (ids, pending) in groups.items()]

    def apply(self, query: ReconcileQuery, result: dict[str, tuple[int, list[str]]]) -> None:
        """Install one query's answer: visible spend per scope; pending ids it contains stop counting locally."""
        for scope, account in self._accounts.items():
            if scope.kind != query.kind or scope.start != query.start or scope.id not in query.ids:
                continue
            visible, seen = result.get(scope.id, (0, []))
            account.visible = visible
            account.drop_seen(seen)
            self._check_alerts(scope, account)

    def forget_before(self, current: set[BudgetScope]) -> None:
        """Drop accounts of past periods (or no longer budgeted) that hold no reservation."""
        reserved = {scope for scopes, _, _ in self._reservations.values() for scope in scopes}
        for scope in [scope for scope in self._accounts if scope not in current and scope not in reserved]:
            del self._accounts[scope]

    # ---- alerts and status ---------------------------------------------------------------------------------
    def _check_alerts(self, scope: BudgetScope, account: _Account) -> None:
        if account.budget <= 0:
            return
        spent = account.spent
        for threshold in self._thresholds:
            if threshold in account.fired or spent < threshold * account.budget:
                continue
            account.fired.append(threshold)
            spent_usd, budget_usd = spent / NANO_PER_USD, account.budget / NANO_PER_USD
            log.warning("budget alert: %s %s reached %d%% (%.6f of %.6f USD, %s period from %s)", scope.kind,
                        scope.id, round(threshold * 100), spent_usd, budget_usd, scope.period, scope.start.date())
            if self._on_alert is not None:
                try:
                    self._on_alert(scope.kind, scope.id, threshold, spent_usd, budget_usd)
                except Exception:
                    log.exception("budget alert sink failed")

    def snapshot(self, scope: BudgetScope) -> tuple[int, int, int, list[float]]:
        """(budget, spent, reserved, alerts fired) of one scope; zeros when it has no account yet."""
        account = self._accounts.get(scope)
        if account is None:
            return 0, 0, 0, []
        return account.budget, account.spent, account.reserved, list(account.fired)

    @property
    def open_reservations(self) -> int:
        """Reservations not yet settled."""
        return len(self._reservations)
