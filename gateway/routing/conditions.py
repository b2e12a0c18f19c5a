"""Conditional-routing queries over `metadata.*` and `params.*` (Portkey operators), RE2 regexes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import re2

from gateway.errors import ConfigError

MAX_REGEX_CHARS = 512
_MISSING = object()

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
"""A compiled query: `predicate(metadata, params) -> bool`."""


def compile_regex(pattern: Any, where: str) -> Any:
    """Compile a caller-supplied regex with RE2 (linear time); lookaround, backrefs, bad syntax: 400."""
    if not isinstance(pattern, str):
        raise ConfigError(f"invalid config: {where}: $regex needs a string pattern", param=where)
    if len(pattern) > MAX_REGEX_CHARS:
        raise ConfigError(f"invalid config: {where}: regex longer than {MAX_REGEX_CHARS} characters", param=where)
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 1 << 20
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ConfigError(
            f"invalid config: {where}: unsupported or invalid regex ({detail}); RE2 syntax only, "
            "no lookaround or backreferences",
            param=where,
        ) from None


def compile_query(query: Any, where: str) -> Predicate:
    """Compile a query object; several keys in one object must all match (implicit $and)."""
    if not isinstance(query, dict) or not query:
        raise ConfigError(f"invalid config: {where}: a query must be a non-empty object", param=where)
    parts = [_compile_entry(key, value, f"{where}.{key}") for key, value in query.items()]
    if len(parts) == 1:
        return parts[0]
    return lambda metadata, params: all(part(metadata, params) for part in parts)


def _compile_entry(key: str, value: Any, where: str) -> Predicate:
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"invalid config: {where}: {key} needs a non-empty list of queries", param=where)
        subs = [compile_query(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if key == "$and":
            return lambda metadata, params: all(sub(metadata, params) for sub in subs)
        return lambda metadata, params: any(sub(metadata, params) for sub in subs)
    if key.startswith("$"):
        raise ConfigError(f"invalid config: {where}: unknown operator {key}", param=where)
    getter = _field_getter(key, where)
    test = _compile_operators(value, where)
    return lambda metadata, params: test(getter(metadata, params))


def _field_getter(key: str, where: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
    root, _, rest = key.partition(".")
    steps = rest.split(".") if rest else []
    if root not in ("metadata", "params") or not steps or len(steps) > 2 or not all(steps):
        raise ConfigError(
            f"invalid config: {where}: query keys are metadata.<key> or params.<key>[.<key>]",
            param=where,
        )

    def get(metadata: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
        current: Any = metadata if root == "metadata" else params
        for step in steps:
            if not isinstance(current, Mapping) or step not in current:
                return _MISSING
            current = current[step]
        return current

    return get


def _compile_operators(spec: Any, where: str) -> Callable[[Any], bool]:
    if not isinstance(spec, dict) or not any(isinstance(k, str) and k.startswith("$") for k in spec):
        return lambda value: _equal(value, spec)  # bare value: equality
    if not all(k.startswith("$") for k in spec):
        raise ConfigError(f"invalid config: {where}: do not mix operators and plain keys", param=where)
    tests = [_compile_operator(op, operand, f"{where}.{op}") for op, operand in spec.items()]
    return lambda value: all(test(value) for test in tests)


def _compile_operator(op: str, operand: Any, where: str) -> Callable[[Any], bool]:
    if op == "$eq":
        return lambda value: _equal(value, operand)
    if op == "$ne":
        return lambda value: not _equal(value, operand)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(operand, bool) or not isinstance(operand, int | float | str):
            raise ConfigError(f"invalid config: {where}: {op} needs a number or a string", param=where)
        return _ordering(op, operand)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise ConfigError(f"invalid config: {where}: {op} needs a list", param=where)
        if op == "$in":
            return lambda value: any(_equal(value, item) for item in operand)
        return lambda value: not any(_equal(value, item) for item in operand)
    if op == "$regex":
        pattern = compile_regex(operand, where)
        return lambda value: isinstance(value, str) and pattern.search(value) is not None
    raise ConfigError(f"invalid config: {where}: unknown operator {op}", param=where)


def _ordering(op: str, operand: int | float | str) -> Callable[[Any], bool]:
    numeric = not isinstance(operand, str)

    def test(value: Any) -> bool:
        if value is _MISSING or isinstance(value, bool):
            return False
        if numeric:
            if isinstance(value, str):
                try:
                    value = float(value)  # metadata values are strings: "42" compares as a number
                except ValueError:
                    return False
            if not isinstance(value, int | float):
                return False
        elif not isinstance(value, str):
            return False
        if op == "$gt":
            return value > operand
        if op == "$gte":
            return value >= operand
        if op == "$lt":
            return value < operand
        return value <= operand

    return test


def _equal(value: Any, expected: Any) -> bool:
    """Equality without Python's bool/int confusion (True != 1 here)."""
    if value is _MISSING:
        return False
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    return bool(value == expected)
