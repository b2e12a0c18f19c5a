"""Server-rendered trace UI at /ui: traces, cost, guardrails, usage and audit pages over the store (read-only)."""

from ui.auth import add_user, hash_password
from ui.router import build_router

__all__ = ["add_user", "build_router", "hash_password"]
