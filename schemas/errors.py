"""The OpenAI error wire shape that every gateway error is rendered in."""

from __future__ import annotations

import msgspec


class ErrorDetail(msgspec.Struct, kw_only=True):
    """The `error` object: message, type, param and code, as OpenAI SDKs expect."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    """The top-level error envelope `{"error": {...}}`."""

    error: ErrorDetail
