"""The one error hierarchy of the gateway; each class carries its HTTP status and OpenAI error type.

    GatewayError (500, api_error)
    ├── InvalidRequest (400, invalid_request_error)
    │   ├── ConfigError (400)              bad routing/guardrail config (header, key or file)
    │   └── GuardrailDenied (400, code content_filter)
    ├── AuthenticationError (401, authentication_error)
    ├── PermissionDenied (403, permission_error)
    ├── NotFound (404, not_found_error)
    ├── PayloadTooLarge (413, invalid_request_error)
    ├── RateLimited (429, rate_limit_error)         carries Retry-After
    │   └── BudgetExceeded (429, code budget_exceeded)
    ├── ProviderError (upstream status, provider's error type)
    │   ├── ProviderTimeout (504, timeout)
    │   ├── ProviderUnavailable (502, connect_error)
    │   └── ProviderStreamError (502, stream_error)  failure after the first byte
    ├── AllTargetsFailed (status of the last attempt)
    └── ClientCancelled (499)                       the caller went away
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """Base of every error the gateway renders; never shown with a traceback."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "api_error"
    code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.error_code = code if code is not None else self.code
        self.headers = headers or {}

    @property
    def http_status(self) -> int:
        """The HTTP status this error is rendered with."""
        return self.status

    @property
    def error_type(self) -> str:
        """The OpenAI `error.type` value."""
        return self.type


class InvalidRequest(GatewayError):
    """The request is malformed or breaks a rule (400)."""

    status = 400
    type = "invalid_request_error"


class ConfigError(InvalidRequest):
    """A routing or guardrail config is invalid or not allowed (400)."""

    code = "invalid_config"


class GuardrailDenied(InvalidRequest):
    """An input guardrail denied the request; the provider was never called (400)."""

    code = "content_filter"

    def __init__(self, message: str, *, failed_checks: list[str], **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.failed_checks = failed_checks


class AuthenticationError(GatewayError):
    """Missing, malformed, unknown, expired or revoked credential (401)."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """The credential is valid but may not do this (403)."""

    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    """No such route or object (404)."""

    status = 404
    type = "not_found_error"


class PayloadTooLarge(GatewayError):
    """The body exceeds the configured limit (413)."""

    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class RateLimited(GatewayError):
    """A rate limit was hit (429, with Retry-After)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    """The key's or team's budget cannot cover the request's worst-case cost (429)."""

    code = "budget_exceeded"


class ProviderError(GatewayError):
    """An upstream provider answered with an error; keeps the upstream status."""

    type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int = 502,
        error_type: str | None = None,
        retry_after_s: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.provider = provider
        self.upstream_status = status
        self.upstream_type = error_type
        self.retry_after_s = retry_after_s

    @property
    def http_status(self) -> int:
        """The upstream status (4xx/5xx) is passed through."""
        return self.upstream_status

    @property
    def error_type(self) -> str:
        """The provider's own error type when it gave one."""
        return self.upstream_type or self.type

    @property
    def kind(self) -> str:
        """Short error class recorded on attempts and spans (`error.type`)."""
        return "upstream_error"


class ProviderTimeout(ProviderError):
    """The upstream did not answer within the timeout (504)."""

    type = "timeout"

    def __init__(self, message: str, *, provider: str, **kwargs: object) -> None:
        super().__init__(message, provider=provider, status=504, **kwargs)  # type: ignore[arg-type]

    @property
    def kind(self) -> str:
        """Short error class."""
        return "timeout"


class ProviderUnavailable(ProviderError):
    """The upstream could not be reached (502)."""

    type = "connect_error"

    def __init__(self, message: str, *, provider: str, **kwargs: object) -> None:
        super().__init__(message, provider=provider, status=502, **kwargs)  # type: ignore[arg-type]

    @property
    def kind(self) -> str:
        """Short error class."""
        return "connect_error"


class ProviderStreamError(ProviderError):
    """The upstream stream failed after it started (bad chunk, cut connection, idle timeout)."""

    type = "stream_error"

    def __init__(self, message: str, *, provider: str, **kwargs: object) -> None:
        super().__init__(message, provider=provider, status=502, **kwargs)  # type: ignore[arg-type]

    @property
    def kind(self) -> str:
        """Short error class."""
        return "stream_error"


class AllTargetsFailed(GatewayError):
    """Every target and retry failed; rendered with the last attempt's status and message."""

    def __init__(self, last: GatewayError, attempts: int) -> None:
        super().__init__(last.message, param=last.param, code=last.error_code, headers=last.headers)
        self.last = last
        self.attempts = attempts

    @property
    def http_status(self) -> int:
        """Status of the last failure."""
        return self.last.http_status

    @property
    def error_type(self) -> str:
        """Type of the last failure."""
        return self.last.error_type


class ClientCancelled(GatewayError):
    """The caller disconnected before the response was complete (recorded as 499)."""

    status = 499
    type = "client_cancelled"
