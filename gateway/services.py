"""The long-lived objects one gateway process owns, built in the lifespan and handed to handlers explicitly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from gateway.auth import KeyAuthority
from gateway.providers.base import Provider
from gateway.settings import SecretResolver
from gateway.transport import Transport
from schemas.settings import PortcullisSettings


@dataclass(slots=True)
class Services:
    """Everything a request needs; no module-level state anywhere else."""

    settings: PortcullisSettings
    providers: dict[str, Provider]
    secrets: SecretResolver
    transport: Transport
    resolver: Any
    router: Any
    telemetry: Any = None
    writer: Any = None
    store: Any = None
    prices: Any = None
    redactor: Any = None
    guardrails: Any = None
    cache: Any = None
    keys: KeyAuthority | None = None
    limits: Any = None
    rng: random.Random = field(default_factory=random.Random)
    ready: bool = False
