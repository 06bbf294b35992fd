"""Adapters: one module per technology, each implementing a port from ``ragops.ports``.

Every adapter accepts an injected client and builds a default only when none is given, and
turns vendor errors into ``ragops.errors`` types.
"""
