"""Implementations of the core's ports."""
