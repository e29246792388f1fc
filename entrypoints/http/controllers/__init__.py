"""HTTP controllers: translate requests to use-case commands and views to responses."""
