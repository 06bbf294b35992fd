"""ragops: a serverless-first RAG platform for document question answering.

The package is layered (see docs/architecture.md): ``entrypoints`` call ``services``, which
work on ``domain`` objects through the ``ports``; ``adapters`` implement the ports and
``bootstrap`` is the one place that wires them from ``Settings``.
"""

__version__ = "0.1.0"
