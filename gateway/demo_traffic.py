"""Sample traffic for `portcullis demo --traffic`: a few teams, features, streams, fallbacks and errors."""

from __future__ import annotations

import json
import random

import httpx

_FEATURES = [("support", "ticket-summary"), ("search", "query-rewrite"), ("growth", "email-draft")]
_PROMPTS = [
    "Summarise this ticket in one sentence.",
    "Rewrite the query 'cheap flights paris' for a search engine.",
    "echo: Contact me at jane.doe@example.com or +1 415 555 0100.",
    "Draft a friendly follow-up email.",
]


def send_demo_traffic(base_url: str, *, requests: int = 40, seed: int = 7) -> int:
    """Send a bounded batch of varied requests; return how many got an answer (any status)."""
    rng = random.Random(seed)
    answered = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for index in range(requests):
            team, feature = rng.choice(_FEATURES)
            headers = {"x-portcullis-metadata": json.dumps({"team": team, "feature": feature,
                                                             "user": f"user-{rng.randint(1, 9)}"})}
            body: dict[str, object] = {
                "model": rng.choice(["gpt-4o-mini", "gpt-4o", "sim-anthropic/claude-3-5-haiku-latest"]),
                "messages": [{"role": "user", "content": rng.choice(_PROMPTS)}],
                "max_tokens": rng.choice([16, 32, 64]),
            }
            if index % 5 == 0:
                headers["x-portcullis-config"] = "pc-demo-fallback"
                body["model"] = "gpt-4o-mini"
            if index % 3 == 0:
                body["stream"] = True
            try:
                response = client.post("/chat/completions", json=body, headers=headers)
                response.read()
                answered += 1
            except httpx.HTTPError:
                continue
    return answered
