"""What each role may do: permissions are ``resource:action`` values, roles are data."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """A right a view requires; also the audit action of an access it guards."""

    AGENCY_READ = "agency:read"
    AGENCY_CREATE = "agency:create"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    AUDIT_VERIFY = "audit:verify"
    TOKEN_REVOKE = "token:revoke"  # noqa: S105 - a permission name, not a secret


#: Which permissions each role holds. A permission not listed is denied.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "system": frozenset({Permission.AGENCY_READ, Permission.TOKEN_REVOKE}),
    "caseworker": frozenset({Permission.AGENCY_READ, Permission.TOKEN_REVOKE}),
    "agency_admin": frozenset({Permission.AGENCY_READ, Permission.TOKEN_REVOKE}),
    "auditor": frozenset({Permission.AGENCY_READ, Permission.AUDIT_READ, Permission.AUDIT_EXPORT,
                          Permission.AUDIT_VERIFY, Permission.TOKEN_REVOKE}),
    "network_admin": frozenset({Permission.AGENCY_READ, Permission.AGENCY_CREATE, Permission.TOKEN_REVOKE}),
}


def role_allows(role: str | None, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())
