"""Idempotency keys: a retried POST returns the first answer, whatever happened to the connection."""
