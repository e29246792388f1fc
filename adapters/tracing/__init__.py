"""Observability adapters: OpenTelemetry set-up and trace-context propagation through
the outbox and the broker, and the log context of each piece of work (core never
sees any of it)."""
