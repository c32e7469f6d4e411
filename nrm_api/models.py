"""Every table, imported in one place for migrations and metadata comparisons."""

from .accounts.models import Client, ClientKey, RevokedToken, UsedAssertion, UsedSignature, User, WebSession
from .agencies.models import Agency, AgencyService
from .audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditQueue
from .forms.models import Form, FormBlindIndex, FormDecision, FormDraft, FormKey, FormVersion
from .idempotency.models import IdempotencyRecord
from .referrals.models import Referral, ReferralEvent, Transfer
from .webhooks.models import AgencyEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Agency", "AgencyEvent", "AgencyService", "AuditCheckpoint", "AuditEvent", "AuditLeaf", "AuditNode", "AuditQueue",
    "Client", "ClientKey", "Form", "FormBlindIndex", "FormDecision", "FormDraft", "FormKey", "FormVersion",
    "IdempotencyRecord", "Referral", "ReferralEvent", "Transfer",
    "RevokedToken", "UsedAssertion", "UsedSignature", "User", "WebSession", "WebhookAttempt", "WebhookDelivery",
    "WebhookEndpoint",
]
