"""The one place log records become ClickHouse rows: table per record type, columns in DDL order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import msgspec

from schemas.log import AttemptLog, AuditRow, GuardrailRow, RequestLog, SpanRow

GENESIS_HASH = "0" * 64


class ChainedAudit(msgspec.Struct, kw_only=True, frozen=True, tag="audit_chained"):
    """An audit row after the writer placed it in its hash chain (this is what the spool stores)."""

    audit: AuditRow
    chain: str
    seq: int
    prev_hash: str
    hash: str


SpoolRecord = RequestLog | GuardrailRow | SpanRow | AuditRow | ChainedAudit


def utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def audit_hash(prev_hash: str, audit: AuditRow, chain: str, seq: int) -> str:
    """sha256 over the previous hash and a canonical JSON of the row; a verifier recomputes it from the table."""
    canonical = msgspec.json.encode([
        prev_hash, utc(audit.at).isoformat(), audit.actor, audit.role, audit.action, audit.target,
        audit.source_ip, audit.detail, chain, seq,
    ])
    return hashlib.sha256(canonical).hexdigest()


def chain_audit(audit: AuditRow, chain: str, seq: int, prev_hash: str) -> ChainedAudit:
    """Place an audit row after `prev_hash` in `chain`."""
    return ChainedAudit(audit=audit, chain=chain, seq=seq, prev_hash=prev_hash,
                        hash=audit_hash(prev_hash, audit, chain, seq))


def verify_audit_chain(rows: Iterable[Sequence[Any]]) -> list[int]:
    """Check rows of AUDIT_COLUMNS for one chain ordered by seq; returns the seqs whose link is broken."""
    broken: list[int] = []
    previous = GENESIS_HASH
    for row in rows:
        values = dict(zip(AUDIT_COLUMNS, row, strict=True))
        audit = AuditRow(at=values["at"], actor=values["actor"], role=values["role"], action=values["action"],
                         target=values["target"], source_ip=values["source_ip"], detail=values["detail"])
        expected = audit_hash(previous, audit, values["chain"], values["seq"])
        if values["prev_hash"] != previous or values["hash"] != expected:
            broken.append(int(values["seq"]))
        previous = values["hash"]
    return broken


REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id", "trace_id", "span_id", "started_at", "duration_ms", "ttft_ms", "endpoint", "http_status",
    "status", "error_type", "error_message", "key_id", "key_name", "team", "feature", "user", "env", "metadata",
    "config_id", "provider", "model_requested", "model_served", "target_path",
    "attempt_target_path", "attempt_provider", "attempt_model", "attempt_status", "attempt_error_type",
    "attempt_error_message", "attempt_started_at", "attempt_latency_ms", "attempt_retry_index",
    "retry_count", "streamed", "cache_status", "finish_reason", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "cost_nano_usd", "price_known",
    "guardrail_outcome", "guardrail_failed", "log_policy", "request_body", "response_body", "user_agent",
    "client_ip",
)


def _attempt_arrays(attempts: list[AttemptLog]) -> list[list[Any]]:
    return [
        [a.target_path for a in attempts], [a.provider for a in attempts], [a.model for a in attempts],
        [a.status for a in attempts], [a.error_type for a in attempts], [a.error_message for a in attempts],
        [utc(a.started_at) for a in attempts], [a.latency_ms for a in attempts],
        [a.retry_index for a in attempts],
    ]


def request_row(r: RequestLog) -> list[Any]:
    """RequestLog -> values in REQUEST_COLUMNS order."""
    return [
        r.request_id, r.trace_id, r.span_id, utc(r.started_at), r.duration_ms, r.ttft_ms, r.endpoint,
        r.http_status, r.status, r.error_type, r.error_message, r.key_id, r.key_name, r.team, r.feature,
        r.user, r.env, r.metadata, r.config_id, r.provider, r.model_requested, r.model_served, r.target_path,
        *_attempt_arrays(r.attempts),
        r.retry_count, r.streamed, r.cache_status, r.finish_reason, r.input_tokens, r.output_tokens,
        r.cached_input_tokens, r.cache_write_tokens, r.reasoning_tokens, r.cost_nano_usd, r.price_known,
        r.guardrail_outcome, r.guardrail_failed, r.log_policy, r.request_body, r.response_body,
        r.user_agent, r.client_ip,
    ]


GUARDRAIL_COLUMNS: tuple[str, ...] = (
    "request_id", "trace_id", "started_at", "stage", "check_id", "check_name", "verdict", "action",
    "entity_types", "finding_count", "findings_json", "latency_ms", "error_message", "team", "feature", "key_id",
)


def guardrail_row(g: GuardrailRow) -> list[Any]:
    """GuardrailRow -> values in GUARDRAIL_COLUMNS order."""
    return [
        g.request_id, g.trace_id, utc(g.started_at), g.stage, g.check_id, g.check_name, g.verdict, g.action,
        g.entity_types, g.finding_count, g.findings_json, g.latency_ms, g.error_message, g.team, g.feature,
        g.key_id,
    ]


SPAN_COLUMNS: tuple[str, ...] = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "started_at", "ended_at", "duration_ms",
    "status_code", "status_message", "attributes", "events_json", "service_name", "request_id",
)


def span_row(s: SpanRow) -> list[Any]:
    """SpanRow -> values in SPAN_COLUMNS order."""
    return [
        s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, utc(s.started_at), utc(s.ended_at),
        s.duration_ms, s.status_code, s.status_message, s.attributes, s.events_json, s.service_name,
        s.request_id,
    ]


AUDIT_COLUMNS: tuple[str, ...] = (
    "at", "actor", "role", "action", "target", "source_ip", "detail", "chain", "seq", "prev_hash", "hash",
)


def audit_row(c: ChainedAudit) -> list[Any]:
    """ChainedAudit -> values in AUDIT_COLUMNS order."""
    a = c.audit
    return [utc(a.at), a.actor, a.role, a.action, a.target, a.source_ip, a.detail, c.chain, c.seq,
            c.prev_hash, c.hash]


class TableSpec(msgspec.Struct, kw_only=True, frozen=True):
    """Where one record type goes."""

    table: str
    columns: tuple[str, ...]
    to_row: Callable[[Any], list[Any]]


TABLES: Mapping[type, TableSpec] = MappingProxyType({
    RequestLog: TableSpec(table="requests", columns=REQUEST_COLUMNS, to_row=request_row),
    GuardrailRow: TableSpec(table="guardrail_results", columns=GUARDRAIL_COLUMNS, to_row=guardrail_row),
    SpanRow: TableSpec(table="spans", columns=SPAN_COLUMNS, to_row=span_row),
    ChainedAudit: TableSpec(table="audit_log", columns=AUDIT_COLUMNS, to_row=audit_row),
})
