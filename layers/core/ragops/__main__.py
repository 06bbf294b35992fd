"""``python -m ragops`` runs the CLI."""

from ragops.entrypoints.cli import main

main()
