"""Valid URLs check: every URL in the text must be well formed (http/https, a real-looking host, no junk)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import msgspec
import re2

from guardrails.base import CheckFacts, CheckInput, Guardrail
from schemas.guardrails import Finding

# Candidate URLs: a scheme and everything up to whitespace or a closing bracket/quote (RE2: linear time).
_CANDIDATE = re2.compile(r"""[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s<>"'`)\]}]+""")
_LABEL = re2.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$")
_TLD = re2.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{2,59})$")


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Which schemes are acceptable; `only_dns` is accepted for Portkey configs but no lookup is made (the
    gateway never resolves names found in model output)."""

    schemes: list[str] = msgspec.field(default_factory=lambda: ["http", "https"])
    only_dns: bool = False
    invert: bool = False  # pass only when the text holds no valid URL


def _valid(url: str, schemes: list[str]) -> bool:
    try:
        parts = urlsplit(url.rstrip(".,;:!?"))
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in schemes or not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels) and bool(_TLD.match(labels[-1]))


def check(data: CheckInput) -> CheckFacts:
    """Find URL-shaped text in every segment and judge each one (findings give positions, not URLs)."""
    params: Params = data.params
    schemes = [scheme.lower() for scheme in params.schemes]
    findings: list[Finding] = []
    valid = 0
    for segment in data.segments:
        for match in _CANDIDATE.finditer(segment.text):
            if _valid(match.group(0), schemes):
                valid += 1
            else:
                findings.append(Finding(entity="INVALID_URL", path=segment.label(), start=match.start(),
                                        end=match.end()))
    if params.invert:
        passed = valid == 0
        return CheckFacts(passed=passed, findings=[] if passed else [Finding(entity="URL", count=valid)])
    return CheckFacts(passed=not findings, findings=findings)


def _compile(params: Params, pii_engine: Any = None) -> None:
    if not params.schemes:
        raise ValueError("schemes: at least one scheme is required")


GUARDRAIL = Guardrail(id="valid_urls", Params=Params, check=check, compile=_compile, default_on_error="open")
