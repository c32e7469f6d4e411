"""The audit log: every access, written in the same transaction as the access itself."""
