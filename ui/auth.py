"""UI access primitives: argon2id passwords, HMAC-signed expiring session cookies, CSRF tokens, login rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from schemas.ui import UiSettings, UiUser

SESSION_COOKIE = "pc_session"
CSRF_COOKIE = "pc_csrf"
# A valid argon2id hash of a random password: verifying an unknown user costs the same as a real one.
_DUMMY_PASSWORD = secrets.token_hex(16)


def password_hasher() -> PasswordHasher:
    """argon2id with the argon2-cffi defaults (RFC 9106 low-memory profile)."""
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id PHC string for the config file (`ui.users.<name>.password_hash`)."""
    if len(password) < 8:
        raise ValueError("UI passwords must have at least 8 characters")
    return password_hasher().hash(password)


def add_user(settings: UiSettings, username: str, password: str, *, role: str = "auditor",
             teams: list[str] | None = None) -> UiSettings:
    """A copy of `settings` with this user added or replaced (the CLI writes the result back to the config)."""
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").replace("@", "").isalnum():
        raise ValueError("usernames use letters, digits, '-', '_', '.', '@'")
    if role not in ("admin", "auditor"):
        raise ValueError("role must be admin or auditor")
    user = UiUser(password_hash=hash_password(password), role=role, teams=sorted(set(teams or [])))  # type: ignore[arg-type]
    return msgspec.structs.replace(settings, users={**settings.users, username: user})


def verify_password(user: UiUser | None, password: str, hasher: PasswordHasher, dummy_hash: str) -> bool:
    """Constant-work check: an unknown user still pays one argon2 verification."""
    try:
        return hasher.verify(user.password_hash if user is not None else dummy_hash, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def dummy_password_hash(hasher: PasswordHasher) -> str:
    """A hash that no submitted password matches in practice (built once per router)."""
    return hasher.hash(_DUMMY_PASSWORD)


class Session(msgspec.Struct, kw_only=True, frozen=True):
    """What the session cookie proves: who logged in, when it expires, and a per-login id."""

    user: str
    sid: str
    exp: int


class CookieSigner:
    """HMAC-SHA256 signatures bound to a purpose, so a session value never verifies as anything else."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the UI needs a server secret of at least 16 characters")
        self._key = hashlib.sha256(b"portcullis-ui|" + secret.encode()).digest()

    def mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign_session(self, session: Session) -> str:
        payload = base64.urlsafe_b64encode(msgspec.json.encode(session)).rstrip(b"=").decode()
        return f"{payload}.{self.mac('session', payload)}"

    def read_session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session if the cookie is intact and not expired, else None."""
        if not cookie or len(cookie) > 1024 or "." not in cookie:
            return None
        payload, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self.mac("session", payload)):
            return None
        try:
            session = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
                                          type=Session)
        except (msgspec.DecodeError, ValueError):
            return None
        return session if session.exp > (time.time() if now is None else now) else None

    def csrf_token(self, binding: str) -> str:
        """The token forms carry: bound to the session id, or to the pre-login CSRF cookie."""
        return self.mac("csrf", binding)

    def csrf_ok(self, binding: str | None, submitted: str | None) -> bool:
        if not binding or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(binding), submitted)


def new_session(user: str, ttl_s: int) -> Session:
    return Session(user=user, sid=secrets.token_urlsafe(18), exp=int(time.time()) + ttl_s)


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(18)


class LoginRateLimiter:
    """Failed-login counters per client IP and per username over a sliding window (bounded memory)."""

    def __init__(self, *, per_ip: int, per_user: int, window_s: float, max_keys: int = 10_000) -> None:
        self._limits = {"ip": per_ip, "user": per_user}
        self._window_s = window_s
        self._max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self._window_s:
            stamps.popleft()
        return stamps

    def allowed(self, ip: str, user: str, now: float | None = None) -> bool:
        """False while either the IP or the username is over its limit."""
        moment = time.monotonic() if now is None else now
        return all(len(self._recent((kind, value), moment)) < self._limits[kind]
                   for kind, value in (("ip", ip), ("user", user.lower())))

    def record_failure(self, ip: str, user: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        for key in (("ip", ip), ("user", user.lower())):
            stamps = self._failures.pop(key, None) or deque(maxlen=max(self._limits.values()) + 1)
            stamps.append(moment)
            self._failures[key] = stamps
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def record_success(self, user: str) -> None:
        self._failures.pop(("user", user.lower()), None)
