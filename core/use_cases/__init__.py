"""Commands, queries and event handlers: one module per use case family."""
