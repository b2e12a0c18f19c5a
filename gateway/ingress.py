"""Decodes and validates inbound bodies and headers once, turning every problem into a 400 that names the field."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gateway.errors import InvalidRequest
from schemas.chat import JsonObject

T = TypeVar("T")

_MAX_DEPTH = 64
_json_decoder = msgspec.json.Decoder()


def decode_object(raw: bytes, *, what: str = "request body") -> JsonObject:
    """Parse JSON bytes into an object (dict); malformed JSON, non-objects and absurd nesting are 400s."""
    if not raw:
        raise InvalidRequest(f"{what} is empty; expected a JSON object")
    try:
        value = _json_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequest(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a JSON object, got {type(value).__name__}")
    if _too_deep(value, _MAX_DEPTH):
        raise InvalidRequest(f"{what} is nested deeper than {_MAX_DEPTH} levels")
    return value


def validate(body: JsonObject, type_: type[T]) -> T:
    """Check the body against a wire Struct (unknown fields tolerated); a type error names the field."""
    try:
        return msgspec.convert(body, type_, strict=False)
    except msgspec.ValidationError as exc:
        message, param = _split_validation(str(exc))
        raise InvalidRequest(f"invalid request: {message}" + (f" (field `{param}`)" if param else ""),
                             param=param) from None


def _split_validation(message: str) -> tuple[str, str | None]:
    """`Expected `str`, got `int` - at `$.messages[0].role`` → (message, "messages[0].role")."""
    if " - at `" in message:
        text, _, where = message.partition(" - at `")
        path = where.rstrip("`").removeprefix("$").removeprefix(".")
        return text, path or None
    if message.startswith("Object missing required field `"):
        return message, message.split("`")[1]
    return message, None


def _too_deep(value: Any, limit: int) -> bool:
    """Iterative depth check (no recursion, so hostile inputs cannot blow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return False


def parse_metadata(raw: str | None, *, max_bytes: int) -> dict[str, str]:
    """Parse the `x-portcullis-metadata` header: a flat JSON object of strings (numbers/bools stringified)."""
    if not raw:
        return {}
    if len(raw.encode()) > max_bytes:
        raise InvalidRequest(f"metadata header is larger than {max_bytes} bytes", param="x-portcullis-metadata")
    try:
        value = _json_decoder.decode(raw)
    except msgspec.DecodeError:
        raise InvalidRequest("metadata header is not valid JSON", param="x-portcullis-metadata") from None
    if not isinstance(value, dict):
        raise InvalidRequest("metadata header must be a JSON object", param="x-portcullis-metadata")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list) or item is None:
            raise InvalidRequest(f"metadata value for `{key}` must be a string, number or boolean",
                                 param="x-portcullis-metadata")
        out[str(key)] = item if isinstance(item, str) else msgspec.json.encode(item).decode()
    return out
