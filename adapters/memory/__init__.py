"""In-memory adapters: the whole system with no server, for tests and demos."""
