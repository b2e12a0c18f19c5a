"""The one redactor every sink uses (ClickHouse rows, spans, logs, error bodies): headers, URLs, secrets, bodies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import msgspec

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 6  # shorter "secrets" would shred ordinary text
_DENY_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-goog-api-key",
})
_SENSITIVE_NAME = re.compile(r"(?i)(key|token|secret|auth|password|passwd|cookie|credential|signature)")
_DENY_QUERY = frozenset({"key", "api_key", "apikey", "access_token", "token", "sig", "signature", "code"})
# "key": "value" pairs inside JSON whose key names a credential. A bare "token" key is exempt when a
# "logprob" key follows it (OpenAI logprobs entries), which would otherwise be shredded.
_JSON_SECRET_FIELD = re.compile(
    r'"((?:[A-Za-z0-9_\-]*(?:api[_\-]?key|apikey|secret|password|passwd|authorization|credential'
    r'|access[_\-]?token|refresh[_\-]?token|id[_\-]?token|session[_\-]?token|auth[_\-]?token'
    r'|bearer[_\-]?token|private[_\-]?key|access[_\-]?key|cookie))|token)"(\s*:\s*)"(?:[^"\\]|\\.)*"'
    r'(?!\s*,\s*"logprob")',
    re.IGNORECASE,
)
# Credential shapes worth blanking even when the value is not a known secret (bodies and error texts).
# Literal-led alternatives only (no lookbehind, no \b): the scan stays linear and cheap.
_KEY_SHAPES = re.compile(
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}|AIza[0-9A-Za-z_\-]{35}|AKIA[0-9A-Z]{16}|gsk_[A-Za-z0-9]{20,}"
    r"|xai-[A-Za-z0-9]{20,}|Bearer\s+[A-Za-z0-9._~+/=\-]{8,}"
)
_KEY_SHAPE_HINTS = ("sk-", "AIza", "AKIA", "gsk_", "xai-", "Bearer")
_SECRET_KEY_SUFFIXES = (
    "apikey", "secret", "password", "passwd", "authorization", "credential", "accesstoken", "refreshtoken",
    "idtoken", "sessiontoken", "authtoken", "bearertoken", "privatekey", "accesskey", "cookie",
)
_MAX_WALK_NODES = 100_000
_TRUNCATION_MARK = "…[truncated {} bytes]"


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value must never reach a sink."""
    lowered = name.lower()
    return lowered in _DENY_HEADERS or _SENSITIVE_NAME.search(lowered) is not None


class Redactor:
    """Replaces credentials with "[REDACTED]"; known secret values are removed wherever they appear."""

    __slots__ = ("_secrets",)

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is replaced whole.
        unique = {s for s in secret_values if isinstance(s, str) and len(s) >= _MIN_SECRET_LEN}
        self._secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))

    def with_secrets(self, secret_values: Iterable[str]) -> Redactor:
        """A new redactor that also knows these values (e.g. after a config reload)."""
        return Redactor((*self._secrets, *secret_values))

    def scrub(self, text: str, extra_secrets: Iterable[str] = ()) -> str:
        """Replace every known secret value (and extra ones, e.g. the caller's virtual key) found in text."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for secret in extra_secrets:
            if secret and len(secret) >= _MIN_SECRET_LEN and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_headers(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]], extra_secrets: Iterable[str] = ()
    ) -> dict[str, str]:
        """Headers safe to record: sensitive names get "[REDACTED]", other values are scrubbed of secrets."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        extra = tuple(extra_secrets)
        out: dict[str, str] = {}
        for name, value in items:
            out[name] = REDACTED if is_sensitive_header(name) else self.scrub(value, extra)
        return out

    def redact_url(self, url: str, extra_secrets: Iterable[str] = ()) -> str:
        """A URL safe to record: credential query parameters and userinfo passwords become "[REDACTED]"."""
        url = self.scrub(url, extra_secrets)
        if "?" not in url and "@" not in url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return REDACTED
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            changed = False
            safe: list[str] = []
            for name, value in pairs:
                if name.lower() in _DENY_QUERY or _SENSITIVE_NAME.search(name):
                    value = REDACTED
                    changed = True
                safe.append(f"{quote(name, safe='')}={quote(value, safe='[]')}")
            if changed:
                query = "&".join(safe)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def redact_text(self, text: str, extra_secrets: Iterable[str] = ()) -> str:
        """Free text (error messages, provider error bodies): known secrets plus credential-shaped tokens."""
        text = self.scrub(text, extra_secrets)
        if any(hint in text for hint in _KEY_SHAPE_HINTS):
            text = _KEY_SHAPES.sub(REDACTED, text)
        return text

    def redact_json_text(self, text: str, extra_secrets: Iterable[str] = ()) -> str:
        """A JSON body safe to record; the text is edited in place (formatting kept), so truncated JSON works too.

        Removes known secrets, credential-shaped tokens, and the values of credential-named keys
        (api_key, apiKey, authorization, password, secret, token, ...).
        """
        text = self.redact_text(text, extra_secrets)
        if _may_hold_secret_field(text):
            text = _JSON_SECRET_FIELD.sub(_blank_field, text)
        return text

    @staticmethod
    def truncate(text: str, max_bytes: int) -> str:
        """At most max_bytes of UTF-8 (never splitting a character), marked with how many bytes were cut."""
        return truncate(text, max_bytes)


def is_secret_field(name: str) -> bool:
    """Whether a JSON key names a credential (api_key, apiKey, x-api-key, client_secret, password, token...)."""
    normal = name.lower().replace("_", "").replace("-", "")
    return normal == "token" or normal.endswith(_SECRET_KEY_SUFFIXES)


def _may_hold_secret_field(text: str) -> bool:
    """Decode and walk the keys (cheaper than a regex over long string values); unparsable text: assume yes."""
    try:
        root = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return True
    stack = [root]
    visited = 0
    while stack:
        visited += 1
        if visited > _MAX_WALK_NODES:
            return True
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    if value and is_secret_field(key) and not (key == "token" and "logprob" in node):
                        return True
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))
    return False


def _blank_field(match: re.Match[str]) -> str:
    return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'


def truncate(text: str, max_bytes: int) -> str:
    """At most max_bytes of UTF-8 (never splitting a character), marked with how many bytes were cut."""
    if len(text) * 4 <= max_bytes:  # fast path: cannot exceed even if every character takes 4 bytes
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    mark_room = len(_TRUNCATION_MARK.format(len(data))) + 3  # the ellipsis is 3 bytes
    keep = max(0, max_bytes - mark_room)
    head = data[:keep].decode("utf-8", "ignore")
    cut = len(data) - len(head.encode("utf-8", "surrogatepass"))
    return head + _TRUNCATION_MARK.format(cut)
