"""The write side's repositories over one connection in one write transaction.

`statements` holds every prebuilt statement; `base` the versioned save and the
unique-key rule all repositories share; `write_queue` the batched product and stock
writes; one module per aggregate family after that. See adapters/sql/README.md.
"""
