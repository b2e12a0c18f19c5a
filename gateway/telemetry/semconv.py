"""The one module that spells OpenTelemetry GenAI (gen_ai.*), HTTP and portcullis.* attribute and metric names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

# Attribute values accepted by OTel: primitives or homogeneous sequences of primitives.
AttrValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float] | Sequence[bool]
Attrs = dict[str, AttrValue]

# --- GenAI span attributes (semantic conventions v1.37+, "latest experimental") --------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
USAGE_COST = "gen_ai.usage.cost"  # vendor convention (Langfuse / LiteLLM), USD float; not in OTel semconv
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOKEN_TYPE = "gen_ai.token.type"
EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
ERROR_TYPE_OTHER = "_OTHER"

# --- HTTP server span ---------------------------------------------------------------------------------------
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
URL_PATH = "url.path"
USER_AGENT = "user_agent.original"

# --- our own namespace ----------------------------------------------------------------------------------------
REQUEST_ID = "portcullis.request.id"  # copied to the SpanRow.request_id column
ENDPOINT = "portcullis.endpoint"
TEAM = "portcullis.team"
KEY_ID = "portcullis.key.id"
REQUEST_STATUS = "portcullis.status"
TARGET_PATH = "portcullis.target.path"
RETRY_INDEX = "portcullis.retry.index"
CACHE_STATUS = "portcullis.cache.status"
GUARDRAIL_CHECK = "portcullis.guardrail.check"
GUARDRAIL_STAGE = "portcullis.guardrail.stage"
GUARDRAIL_VERDICT = "portcullis.guardrail.verdict"
GUARDRAIL_ACTION = "portcullis.guardrail.action"
GUARDRAIL_FINDING_COUNT = "portcullis.guardrail.finding_count"
GUARDRAIL_ENTITY_TYPES = "portcullis.guardrail.entity_types"
STATUS = "status"
PROVIDER = "provider"
MODEL = "model"
REASON = "reason"
LEVEL = "level"

# --- metric names, units and bucket boundaries (gen-ai-metrics.md) ----------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_REQUESTS = "portcullis.requests"
METRIC_REQUEST_DURATION = "portcullis.request.duration"
METRIC_COST = "portcullis.cost.usd"
METRIC_GUARDRAIL_VERDICTS = "portcullis.guardrail.verdicts"
METRIC_RETRIES = "portcullis.retries"
METRIC_FALLBACKS = "portcullis.fallbacks"
METRIC_BUDGET_ALERTS = "portcullis.budget.alerts"
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

_NUMERIC_PARAMS = (
    ("temperature", REQUEST_TEMPERATURE),
    ("top_p", REQUEST_TOP_P),
    ("top_k", REQUEST_TOP_K),
    ("frequency_penalty", REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", REQUEST_PRESENCE_PENALTY),
)


class UsageCounts(Protocol):
    """Token counts as normalised by the provider adapters (gateway.providers.base.TokenUsage fits)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int


def span_name(operation: str, model: str | None) -> str:
    """Inference span name: '{gen_ai.operation.name} {gen_ai.request.model}', e.g. 'chat gpt-4o'."""
    return f"{operation} {model}" if model else operation


def server_span_name(method: str, route: str) -> str:
    """HTTP server span name: '{method} {route}' (low-cardinality route template, not the raw URL)."""
    return f"{method} {route}"


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def attempt_start_attributes(
    operation: str,
    provider_otel_name: str,
    request_model: str,
    params: Mapping[str, Any] | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
) -> Attrs:
    """Attributes known when an upstream attempt starts (set at span start so samplers can see them)."""
    attrs: Attrs = {OPERATION_NAME: operation, PROVIDER_NAME: provider_otel_name}
    if request_model:
        attrs[REQUEST_MODEL] = request_model
    if server_address:
        attrs[SERVER_ADDRESS] = server_address
    if server_port:
        attrs[SERVER_PORT] = server_port
    if not params:
        return attrs
    max_tokens = params.get("max_completion_tokens", params.get("max_tokens"))
    if type(max_tokens) is int:
        attrs[REQUEST_MAX_TOKENS] = max_tokens
    for key, name in _NUMERIC_PARAMS:
        value = params.get(key)
        if value is not None and _is_number(value):
            attrs[name] = value
    seed = params.get("seed")
    if type(seed) is int:
        attrs[REQUEST_SEED] = seed
    count = params.get("n")
    if type(count) is int and count != 1:
        attrs[REQUEST_CHOICE_COUNT] = count
    stop = params.get("stop")
    if isinstance(stop, str):
        attrs[REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        attrs[REQUEST_STOP_SEQUENCES] = tuple(stop)
    stream = params.get("stream")
    if type(stream) is bool:
        attrs[REQUEST_STREAM] = stream
    response_format = params.get("response_format")
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            attrs[OUTPUT_TYPE] = "json"
        elif kind == "text":
            attrs[OUTPUT_TYPE] = "text"
    return attrs


def usage_attributes(usage: UsageCounts | None) -> Attrs:
    """gen_ai.usage.* (input includes cached input, output includes reasoning); zero detail counts are omitted."""
    if usage is None:
        return {}
    attrs: Attrs = {USAGE_INPUT_TOKENS: usage.input_tokens, USAGE_OUTPUT_TOKENS: usage.output_tokens}
    if usage.cached_input_tokens:
        attrs[USAGE_CACHE_READ_INPUT_TOKENS] = usage.cached_input_tokens
    if usage.cache_write_tokens:
        attrs[USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        attrs[USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    return attrs


def attempt_end_attributes(
    response_id: str | None = None,
    response_model: str | None = None,
    finish_reasons: Sequence[str] | None = None,
    usage: UsageCounts | None = None,
    error_type: str | None = None,
    time_to_first_chunk_s: float | None = None,
    cost_usd: float | None = None,
) -> Attrs:
    """Attributes known when an attempt ends: response facts, usage, streaming TTFC, cost and error.type."""
    attrs = usage_attributes(usage)
    if response_id:
        attrs[RESPONSE_ID] = response_id
    if response_model:
        attrs[RESPONSE_MODEL] = response_model
    if finish_reasons:
        attrs[RESPONSE_FINISH_REASONS] = tuple(finish_reasons)
    if time_to_first_chunk_s is not None:
        attrs[RESPONSE_TIME_TO_FIRST_CHUNK] = float(time_to_first_chunk_s)
    if cost_usd is not None:
        attrs[USAGE_COST] = float(cost_usd)
    if error_type is not None:
        attrs[ERROR_TYPE] = error_type or ERROR_TYPE_OTHER
    return attrs


def cost_attributes(cost_nano_usd: int) -> Attrs:
    """gen_ai.usage.cost in USD (float) from the integer nano-USD the request row stores."""
    return {USAGE_COST: cost_nano_usd / 1e9}


def request_start_attributes(
    request_id: str, method: str, path: str, route: str | None = None, user_agent: str | None = None
) -> Attrs:
    """Server span attributes known at ingress."""
    attrs: Attrs = {REQUEST_ID: request_id, HTTP_REQUEST_METHOD: method, URL_PATH: path}
    if route:
        attrs[HTTP_ROUTE] = route
    if user_agent:
        attrs[USER_AGENT] = user_agent
    return attrs


def request_end_attributes(
    http_status: int,
    status: str,
    *,
    team: str = "",
    key_id: str = "",
    endpoint: str = "",
    error_type: str | None = None,
    cache_status: str | None = None,
) -> Attrs:
    """Server span attributes known when the response is complete."""
    attrs: Attrs = {HTTP_RESPONSE_STATUS_CODE: http_status, REQUEST_STATUS: status}
    if team:
        attrs[TEAM] = team
    if key_id:
        attrs[KEY_ID] = key_id
    if endpoint:
        attrs[ENDPOINT] = endpoint
    if cache_status:
        attrs[CACHE_STATUS] = cache_status
    if error_type is not None:
        attrs[ERROR_TYPE] = error_type or ERROR_TYPE_OTHER
    return attrs


def guardrail_span_name(check_id: str) -> str:
    """Span name of one guardrail check run."""
    return f"guardrail {check_id}"


def guardrail_attributes(
    check_id: str,
    stage: str,
    verdict: str,
    action: str,
    finding_count: int = 0,
    entity_types: Iterable[str] = (),
    error_type: str | None = None,
) -> Attrs:
    """portcullis.guardrail.* attributes (OTel has no guardrail convention); never the matched text."""
    attrs: Attrs = {
        GUARDRAIL_CHECK: check_id,
        GUARDRAIL_STAGE: stage,
        GUARDRAIL_VERDICT: verdict,
        GUARDRAIL_ACTION: action,
        GUARDRAIL_FINDING_COUNT: finding_count,
    }
    types = tuple(entity_types)
    if types:
        attrs[GUARDRAIL_ENTITY_TYPES] = types
    if error_type is not None:
        attrs[ERROR_TYPE] = error_type or ERROR_TYPE_OTHER
    return attrs


def evaluation_event(
    name: str, score_label: str, score_value: float | None = None, explanation: str | None = None
) -> tuple[str, Attrs]:
    """A gen_ai.evaluation.result event (name, attributes) to add to the span it evaluates."""
    attrs: Attrs = {EVALUATION_NAME: name, EVALUATION_SCORE_LABEL: score_label}
    if score_value is not None:
        attrs[EVALUATION_SCORE_VALUE] = float(score_value)
    if explanation:
        attrs[EVALUATION_EXPLANATION] = explanation
    return EVALUATION_EVENT, attrs


# --- metric attribute sets -----------------------------------------------------------------------------------------


def operation_metric_attributes(
    operation: str,
    provider_otel_name: str,
    request_model: str,
    response_model: str | None = None,
    server_address: str | None = None,
    error_type: str | None = None,
) -> Attrs:
    """Attributes shared by the gen_ai.client.* metrics (kept low-cardinality: no ids, no team)."""
    attrs: Attrs = {OPERATION_NAME: operation, PROVIDER_NAME: provider_otel_name, REQUEST_MODEL: request_model}
    if response_model:
        attrs[RESPONSE_MODEL] = response_model
    if server_address:
        attrs[SERVER_ADDRESS] = server_address
    if error_type is not None:
        attrs[ERROR_TYPE] = error_type or ERROR_TYPE_OTHER
    return attrs


def token_metric_attributes(operation_attrs: Attrs, token_type: str) -> Attrs:
    """Operation attributes plus gen_ai.token.type ('input' | 'output')."""
    return {**operation_attrs, TOKEN_TYPE: token_type}


def request_metric_attributes(endpoint: str, status: str, provider: str, model: str, team: str) -> Attrs:
    """Attributes of the requests counter / request duration histogram."""
    return {ENDPOINT: endpoint, STATUS: status, PROVIDER: provider, MODEL: model, TEAM: team}


def guardrail_metric_attributes(check_id: str, stage: str, verdict: str, action: str) -> Attrs:
    """Attributes of the guardrail verdicts counter."""
    return {GUARDRAIL_CHECK: check_id, GUARDRAIL_STAGE: stage, GUARDRAIL_VERDICT: verdict,
            GUARDRAIL_ACTION: action}
