"""What each role may do: permissions are ``resource:action`` values, roles are data."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """A right a view requires; also the audit action of an access it guards."""

    AGENCY_READ = "agency:read"
    AGENCY_CREATE = "agency:create"
    AGENCY_MANAGE = "agency:manage"
    FORM_CREATE = "form:create"
    FORM_READ = "form:read"
    FORM_UPDATE = "form:update"
    FORM_DECIDE = "form:decide"
    FORM_WITHDRAW_CONSENT = "form:withdraw-consent"
    FORM_TRANSFER = "form:transfer"
    FORM_EXPORT = "form:export"
    REFERRAL_CREATE = "referral:create"
    REFERRAL_READ = "referral:read"
    REFERRAL_UPDATE = "referral:update"
    REFERRAL_OVERRIDE_CONSENT = "referral:override-consent"
    WEBHOOK_MANAGE = "webhook:manage"
    USER_MANAGE = "user:manage"
    VOCABULARY_READ = "vocabulary:read"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    AUDIT_VERIFY = "audit:verify"
    TOKEN_REVOKE = "token:revoke"  # noqa: S105 - a permission name, not a secret
    STATISTICS_READ = "statistics:read"


_EVERYONE = frozenset({Permission.AGENCY_READ, Permission.VOCABULARY_READ, Permission.TOKEN_REVOKE})
_CASEWORK = frozenset({Permission.FORM_CREATE, Permission.FORM_READ, Permission.FORM_UPDATE, Permission.FORM_DECIDE,
                       Permission.FORM_WITHDRAW_CONSENT, Permission.FORM_TRANSFER, Permission.REFERRAL_CREATE,
                       Permission.REFERRAL_READ, Permission.REFERRAL_UPDATE})
_AGENCY_SETUP = frozenset({Permission.AGENCY_MANAGE, Permission.WEBHOOK_MANAGE})
#: Counts with small cells withheld: an agency's own, or the network's for the authority, IOM and auditors.
_STATISTICS = frozenset({Permission.STATISTICS_READ})

#: Which permissions each role holds. A permission not listed is denied. Auditors and network
#: administrators never hold a permission that reads case content. Only a person (a supervisor),
#: never a system, may send a referral the person's consent does not cover.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "system": _EVERYONE | _CASEWORK | _AGENCY_SETUP | _STATISTICS | {Permission.FORM_EXPORT},
    "caseworker": _EVERYONE | _CASEWORK | _STATISTICS,
    "supervisor": _EVERYONE | _CASEWORK | _STATISTICS | {Permission.REFERRAL_OVERRIDE_CONSENT, Permission.FORM_EXPORT},
    "agency_admin": _EVERYONE | _AGENCY_SETUP | _STATISTICS | {Permission.USER_MANAGE},
    "auditor": _EVERYONE | _STATISTICS | {Permission.AUDIT_READ, Permission.AUDIT_EXPORT, Permission.AUDIT_VERIFY},
    "network_admin": _EVERYONE | {Permission.AGENCY_CREATE, Permission.AGENCY_MANAGE},
}


def role_allows(role: str | None, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())
