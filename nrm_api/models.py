"""Every table, imported in one place for migrations and metadata comparisons."""

from .accounts.models import Client, ClientKey, RevokedToken, UsedAssertion, User
from .agencies.models import Agency
from .audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditQueue
from .forms.models import Form, FormBlindIndex, FormDecision, FormDraft, FormKey, FormVersion
from .idempotency.models import IdempotencyRecord

__all__ = [
    "Agency", "AuditCheckpoint", "AuditEvent", "AuditLeaf", "AuditNode", "AuditQueue",
    "Client", "ClientKey", "Form", "FormBlindIndex", "FormDecision", "FormDraft", "FormKey", "FormVersion",
    "IdempotencyRecord",
    "RevokedToken", "UsedAssertion", "User",
]
