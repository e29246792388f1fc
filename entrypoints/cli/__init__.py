"""The `orderly` command line."""
