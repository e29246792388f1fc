"""Entrypoints: the HTTP API, the CLI, the worker, and the composition root."""
