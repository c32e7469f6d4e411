"""Signed webhooks from a transactional outbox, and the changes feed they mirror."""
