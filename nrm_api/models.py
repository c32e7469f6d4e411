"""Every table, imported in one place for migrations and metadata comparisons."""

from .accounts.models import Client, ClientKey, RevokedToken, UsedAssertion, User
from .agencies.models import Agency
from .audit.models import AuditEvent

__all__ = ["Agency", "AuditEvent", "Client", "ClientKey", "RevokedToken", "UsedAssertion", "User"]
