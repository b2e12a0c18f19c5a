"""Telemetry: OpenTelemetry tracing and metrics, GenAI semantic conventions, redaction, log rows."""
