"""The audit journal: append-only, hash-chained."""
