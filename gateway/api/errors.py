"""The single exception handler: every error leaves as the OpenAI error shape, never a traceback."""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.errors import GatewayError
from schemas.errors import ErrorBody, ErrorDetail

log = logging.getLogger("portcullis")

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}
_encoder = msgspec.json.Encoder()


def error_response(
    status: int, message: str, type_: str, *, param: str | None = None, code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """Render an OpenAI-shaped error."""
    body = ErrorBody(error=ErrorDetail(message=message, type=type_, param=param, code=code))
    return Response(_encoder.encode(body), status_code=status, media_type="application/json", headers=headers)


def gateway_error_body(exc: GatewayError) -> bytes:
    """The JSON bytes of a gateway error (also used inside SSE error events)."""
    detail = ErrorDetail(message=exc.message, type=exc.error_type, param=exc.param, code=exc.error_code)
    return _encoder.encode(ErrorBody(error=detail))


def render_gateway_error(exc: GatewayError) -> Response[bytes]:
    """GatewayError → its status and type in the OpenAI shape."""
    status = exc.http_status if exc.http_status != 499 else 400
    return Response(
        gateway_error_body(exc), status_code=status, media_type="application/json", headers=exc.headers or None
    )


def handle_gateway_error(request: Request, exc: GatewayError) -> Response[bytes]:
    """Litestar exception handler for GatewayError raised outside the pipeline."""
    return render_gateway_error(exc)


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors (unknown route, wrong method, body too large) in the OpenAI shape."""
    status = exc.status_code
    message = exc.detail or "error"
    if status == 404:
        message = f"no route {request.method} {request.url.path}"
    elif status == 413:
        message = "request body is larger than the configured limit"
    return error_response(status, message, _HTTP_TYPES.get(status, "api_error"), code=None)


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    """Anything else: logged with its traceback server-side, a plain 500 for the caller."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal gateway error", "api_error")
