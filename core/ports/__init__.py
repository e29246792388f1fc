"""The interfaces the core needs, in the core's language."""
