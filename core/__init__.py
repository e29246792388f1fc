"""Orderly's pure core: domain, ports and use cases. Standard library only."""
