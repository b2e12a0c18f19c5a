"""Shared setup for routing tests: settings with Portkey-named providers, a fake clock, scripted attempts."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from gateway.errors import GatewayError
from gateway.providers.registry import discover
from gateway.routing.plan import Leaf
from gateway.routing.resolve import RouteResolver
from schemas.log import AttemptLog
from schemas.settings import PolicySettings, PortcullisSettings, ProviderSettings

# Adapter modules other helpers write; until they land, the registry entries only need a default URL here.
_DEFAULT_URLS = {
    "openai": "https://api.openai.com/v1",
    "azure_openai": "https://example.openai.azure.com/openai",
    "anthropic": "https://api.anthropic.com/v1",
    "groq": "https://api.groq.com/openai/v1",
}


def adapters() -> dict[str, Any]:
    """The real adapter registry, completed with stand-ins for adapters not written yet."""
    found: dict[str, Any] = dict(discover())
    for adapter_id, url in _DEFAULT_URLS.items():
        found.setdefault(adapter_id, SimpleNamespace(id=adapter_id, default_base_url=url))
    return found


def make_settings(**overrides: Any) -> PortcullisSettings:
    """Providers named like Portkey ids (openai, azure-openai, anthropic, groq) plus a passthrough one."""
    providers = {
        "openai": ProviderSettings(adapter="openai", api_key="env:OPENAI_KEY", models=["gpt-4o", "gpt-4o-mini"]),
        "azure-openai": ProviderSettings(
            adapter="azure_openai", base_url="https://res.openai.azure.com/openai", api_version="2024-02-01"
        ),
        "anthropic-main": ProviderSettings(adapter="anthropic", api_key="env:ANTHROPIC_KEY"),
        "groq": ProviderSettings(adapter="groq", models=["llama-3.1-8b-instant"]),
        "byok": ProviderSettings(adapter="openai", base_url="https://byok.example/v1", passthrough_auth=True),
    }
    fields: dict[str, Any] = {"providers": providers}
    fields.update(overrides)
    return PortcullisSettings(**fields)


def secrets(reference: str | None) -> str | None:
    """Resolves env: references to a recognisable fake value."""
    if reference is None:
        return None
    return f"secret-of-{reference[4:]}" if reference.startswith("env:") else reference


def make_resolver(settings: PortcullisSettings | None = None, **policy: Any) -> RouteResolver:
    """A resolver over make_settings(), optionally with a modified policy."""
    if settings is None:
        settings = make_settings(policy=PolicySettings(**policy)) if policy else make_settings()
    return RouteResolver(settings, adapters(), secrets)


class FakeClock:
    """Monotonic time that only moves when the router sleeps (or a test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedUpstream:
    """An `attempt` function: per provider name a list of outcomes (an exception to raise, or a value to return)."""

    def __init__(self, script: dict[str, list[Any]], *, cost_s: float = 0.0, clock: FakeClock | None = None) -> None:
        self.script = {name: list(outcomes) for name, outcomes in script.items()}
        self.calls: list[tuple[str, str, float]] = []  # (provider, model, timeout_s)
        self.bodies: list[dict[str, Any]] = []
        self.cost_s = cost_s
        self.clock = clock

    async def __call__(self, leaf: Leaf, body: dict[str, Any], timeout_s: float) -> str:
        self.calls.append((leaf.target.name, leaf.target.model, timeout_s))
        self.bodies.append(body)
        if self.clock is not None:
            self.clock.now += self.cost_s
        outcomes = self.script.get(leaf.target.name) or ["ok"]
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return f"{outcome}:{leaf.target.name}"


def collector() -> tuple[list[AttemptLog], Callable[[AttemptLog], None]]:
    """A list that on_attempt appends to."""
    logs: list[AttemptLog] = []
    return logs, logs.append


def raises_config_error(call: Callable[[], Any]) -> GatewayError:
    """Run call and return the ConfigError it raised (fails the test otherwise)."""
    from gateway.errors import ConfigError

    try:
        call()
    except ConfigError as exc:
        return exc
    raise AssertionError("expected ConfigError")
