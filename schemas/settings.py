"""The server config file (portcullis.yaml): providers, models, named configs, store, telemetry and policy."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from schemas.keys import KeySettings
from schemas.ui import UiSettings


class _Strict(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for config types: strict, immutable, keyword-only."""


class ProviderSettings(_Strict):
    """One upstream the operator registers; callers can only name it, never change its URL or credential."""

    adapter: str  # module under gateway/providers: openai, anthropic, gemini, azure_openai, groq, ...
    base_url: str | None = None  # default: the adapter's public URL
    api_key: str | None = None  # "env:VAR" reference (literal keys are accepted but discouraged)
    api_version: str | None = None  # Azure
    models: list[str] = msgspec.field(default_factory=list)  # models offered (listed by /v1/models)
    default_max_tokens: int = 4096
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # extra upstream headers ("env:" allowed)
    passthrough_auth: bool = False  # forward the caller's own provider key instead of api_key
    timeout_s: float = 600.0


class ServerSettings(_Strict):
    """Listener and request limits."""

    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 10 * 1024 * 1024
    max_header_config_bytes: int = 8 * 1024
    max_metadata_bytes: int = 2 * 1024
    upstream_connect_timeout_s: float = 10.0
    upstream_pool_size: int = 512
    transport: Literal["aiohttp", "httpx-aiohttp", "httpx"] = "aiohttp"  # upstream client (docs/benchmarks.md)
    default_request_timeout_s: float = 600.0
    stream_idle_timeout_s: float = 120.0


class StoreSettings(_Strict):
    """Where request logs and spans go (ClickHouse by DSN) and the local spool that makes them durable."""

    dsn: str = "chdb://./.portcullis/clickhouse"
    database: str = "portcullis"
    spool_dir: str = "./.portcullis/spool"
    body_ttl_days: int = 30
    row_ttl_days: int = 400
    flush_interval_ms: int = 1000
    batch_rows: int = 5000
    fsync_window_ms: int = 10
    spool_max_bytes: int = 1024 * 1024 * 1024
    cluster: str | None = None


class TelemetrySettings(_Strict):
    """OpenTelemetry export; OTEL_* environment variables override these."""

    service_name: str = "portcullis"
    otlp_endpoint: str | None = None  # e.g. http://collector:4318 ; OTEL_EXPORTER_OTLP_ENDPOINT wins
    capture_message_content: bool = False
    spans_to_clickhouse: bool = True
    prometheus: bool = True


class PolicySettings(_Strict):
    """Server-side caps applied to every routing config, including ones sent by callers."""

    max_attempts: int = 5
    max_depth: int = 6
    max_targets: int = 16
    max_request_timeout_ms: int = 600_000
    max_retry_after_s: float = 60.0
    retry_budget_ratio: float = 0.2
    retry_budget_min: int = 10
    cooldown_failures: int = 5
    cooldown_s: float = 30.0
    allow_inline_configs: bool = True
    cache_max_bytes: int = 64 * 1024 * 1024


class LoggingPolicy(_Strict):
    """What is recorded by default: full bodies, metadata only, or nothing."""

    default: Literal["full", "metadata", "off"] = "full"
    max_body_bytes: int = 256 * 1024
    # Callers may lower their own request's policy with `x-portcullis-log: metadata|off` (never raise it).
    allow_request_policy: bool = True


class GuardrailDefaults(_Strict):
    """Server-side guardrail chains added in front of every config's own chains (all teams, or one team)."""

    input: list[Any] = msgspec.field(default_factory=list)  # native checks or Portkey shorthand
    output: list[Any] = msgspec.field(default_factory=list)


class GuardrailSettings(_Strict):
    """Server defaults for guardrails: chains for everyone and per team, PII engine set-up, stream mode."""

    input: list[Any] = msgspec.field(default_factory=list)
    output: list[Any] = msgspec.field(default_factory=list)
    teams: dict[str, GuardrailDefaults] = msgspec.field(default_factory=dict)
    stream_output_mode: Literal["buffer", "incremental", "post"] = "buffer"
    output_deny: Literal["content_filter", "error"] = "content_filter"
    phone_regions: list[str] = msgspec.field(default_factory=lambda: ["US", "GB"])
    ner: bool = False


class PriceOverride(_Strict):
    """Operator prices in USD per million tokens; unset cache/reasoning prices fall back to input/output."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


class PortcullisSettings(_Strict):
    """The whole server config file."""

    providers: dict[str, ProviderSettings] = msgspec.field(default_factory=dict)
    aliases: dict[str, Any] = msgspec.field(default_factory=dict)  # alias -> routing config object
    configs: dict[str, Any] = msgspec.field(default_factory=dict)  # named config id (pc-...) -> routing config
    default_config: str | None = None  # named config used when neither key nor request chooses one
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    telemetry: TelemetrySettings = msgspec.field(default_factory=TelemetrySettings)
    policy: PolicySettings = msgspec.field(default_factory=PolicySettings)
    logging: LoggingPolicy = msgspec.field(default_factory=LoggingPolicy)
    guardrails: GuardrailSettings = msgspec.field(default_factory=GuardrailSettings)
    prices: dict[str, PriceOverride] = msgspec.field(default_factory=dict)  # "provider/model" or "model" -> price
    ui: UiSettings = msgspec.field(default_factory=UiSettings)
    secret: str | None = None  # server secret ("env:PORTCULLIS_SECRET"): HMAC of keys, PII hash salt, sessions
    admin_token: str | None = None  # "env:PORTCULLIS_ADMIN_TOKEN": protects /admin
    require_keys: bool = False  # when false, requests without a virtual key are served as team "default"
    keys: KeySettings = msgspec.field(default_factory=KeySettings)  # virtual keys, budgets, rate limits
