"""Backups have no web routes (CLI only)."""
