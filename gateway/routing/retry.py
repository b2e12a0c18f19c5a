"""Retry and fallback decisions for a failed attempt: retriable?, how long to wait, fall back?"""

from __future__ import annotations

import random

from gateway.errors import GatewayError, ProviderError, ProviderTimeout, ProviderUnavailable
from gateway.routing.plan import Group, RetryPolicy

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0


def attempt_status(error: GatewayError) -> int:
    """The status recorded on an attempt: 0 when no upstream answer arrived (timeout, connection error)."""
    if isinstance(error, ProviderTimeout | ProviderUnavailable):
        return 0
    return error.http_status


def error_kind(error: GatewayError) -> str:
    """Short error class for attempt logs and spans."""
    return error.kind if isinstance(error, ProviderError) else error.error_type


def hurts_health(error: GatewayError) -> bool:
    """Failures that say the target is unhealthy: timeouts, connect errors, 408, 429, 5xx."""
    status = error.http_status
    return isinstance(error, ProviderTimeout | ProviderUnavailable) or status in (408, 429) or status >= 500


def retriable(error: GatewayError, policy: RetryPolicy, retry_index: int) -> bool:
    """Retries left and the failure status is one the leaf retries on."""
    return retry_index < policy.retries and error.http_status in policy.on_status_codes


def retry_wait_s(
    error: GatewayError,
    policy: RetryPolicy,
    retry_index: int,
    rng: random.Random,
    *,
    max_retry_after_s: float,
) -> float | None:
    """Seconds before retry retry_index+1; None when the upstream asks for more than the cap."""
    asked = error.retry_after_s if isinstance(error, ProviderError) else None
    if policy.use_retry_after and asked is not None:
        return asked if asked <= max_retry_after_s else None
    return rng.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**retry_index)))  # full jitter


def falls_back(error: GatewayError, group: Group) -> bool:
    """Fallback moves on: always for timeouts/connect errors, else when the status is listed (or no list)."""
    if isinstance(error, ProviderTimeout | ProviderUnavailable):
        return True
    return group.on_status_codes is None or error.http_status in group.on_status_codes
