"""Notifier adapters."""
