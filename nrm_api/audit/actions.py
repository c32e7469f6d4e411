"""Audit actions that are not the permission a view requires: sign-in and administration."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """An event of the log that no ``Permission`` names."""

    AUTH_TOKEN = "auth:token"  # noqa: S105 - an action name
    AUTH_LOGIN = "auth:login"
    AUTH_LOGOUT = "auth:logout"
    USER_TOTP_ENROL = "user:totp-enrol"
    USER_PASSWORD_CHANGE = "user:password-change"  # noqa: S105 - an action name
    USER_TOTP_SHOW = "user:totp-show"
    CLIENT_CREATE = "client:create"
    CLIENT_KEY_ADD = "client:key-add"
    CLIENT_KEY_REVOKE = "client:key-revoke"
    HOSTED_KEY_ROTATE = "hosted-key:rotate"
    USER_CREATE = "user:create"
    USER_DISABLE = "user:disable"
    USER_TOTP_RESET = "user:totp-reset"
    CLIENT_DISABLE = "client:disable"
    TOKENS_REVOKE = "tokens:revoke"  # noqa: S105 - an action name
    REQUEST_AUTHENTICATE = "request:authenticate"
    FORM_SHRED = "form:shred"
    KEYS_ROTATE = "keys:rotate"
    KEYS_REWRAP = "keys:rewrap"
    REQUEST_REFUSE = "request:refuse"
    KEYS_RETIRE = "keys:retire"
    #: Exports and imports carry their row count in ``count`` (never a value of a row).
    EXPORT_HTCDS = "export:htcds"
    IMPORT_HTCDS = "import:htcds"
    EXPORT_CTDC = "export:ctdc"
    EXPORT_HSDS = "export:hsds"
    #: A subject access report: every version of one form decrypted for the person it is about.
    FORM_SUBJECT_ACCESS = "form:subject-access"
