"""Parse the wait a provider asks for: `retry-after-ms`, `x-ms-retry-after-ms` or `retry-after`."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Return the wait in seconds the upstream asked for, or None when it gave none (or gave garbage)."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = headers.get(name)
        if raw:
            try:
                value = float(raw) / 1000.0
            except ValueError:
                continue
            if value >= 0:
                return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
