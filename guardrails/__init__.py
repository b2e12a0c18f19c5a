"""Guardrail checks: pure functions over request/response JSON, run as chains by GuardrailRunner."""
