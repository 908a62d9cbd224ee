"""Backups: consistent snapshots of the database and exhibits, verify, restore."""
