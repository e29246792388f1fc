"""Entities, value objects, domain events and domain errors."""
