"""Webhook sending: the httpx client, host resolution, the sender thread, metrics."""
