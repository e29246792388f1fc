"""Signals adapters raise that use cases understand."""


class ConcurrencyConflict(Exception):
    """Another transaction changed what this one read; the use case may retry."""


class TransientError(Exception):
    """A remote system could not answer now; the same call may succeed later.

    Delivery retries a handler that raises one with backoff, whatever port raised it.
    """


class DuplicateIdempotencyKey(Exception):
    """A concurrent request stored the same idempotency key first."""


class DependencyUnavailable(Exception):
    """A server the adapter needs (database, broker) cannot be reached."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency
        self.detail = detail
