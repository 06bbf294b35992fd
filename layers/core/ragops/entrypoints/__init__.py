"""Entrypoints: the HTTP API and the CLI. They parse input, call one service, shape output."""
