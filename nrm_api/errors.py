"""Domain errors: the refusals services raise, in the domain's words, for every door to answer its way.

The API answers each as its problem (``problems``), the command line as a message (``cli_refusals``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class DomainError(Exception):
    """A refusal by a service function; the API answers it as a problem, the CLI as a message.

    The door's one boundary audits it: ``reason`` (the slug, unless a site names it more exactly),
    ``resource`` when known, and ``action`` when not the door's declared permission.
    """

    status = 400
    slug = "bad-request"
    title = "Bad Request"
    #: ``failed`` for what is the service's fault, not the caller's.
    outcome = "denied"

    def __init__(self, detail: str, *, errors: Any = None, reason: str | None = None, resource: str | None = None,
                 action: StrEnum | str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.reason = reason or self.slug.replace("-", "_")
        self.resource = resource
        self.action = action
        self.headers: dict[str, str] = dict(headers or {})


class NotFoundError(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    status, slug, title = 404, "not-found", "Not Found"


class ConflictError(DomainError):
    """The object exists already, or the change conflicts with its state."""

    status, slug, title = 409, "conflict", "Conflict"


class InvalidError(DomainError):
    """The input is well-formed but not acceptable."""

    status, slug, title = 422, "validation-failed", "Unprocessable Content"


class Unauthenticated(DomainError):
    """No valid access token, or a write's signature refused."""

    status, slug, title = 401, "invalid-token", "Unauthorized"


class BadSignature(Unauthenticated):
    """A signed write's ``X-JWS-Signature`` does not verify for this request."""

    title = "Signature refused"

    def __init__(self, code: str, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, reason=f"signature_{code}", **kwargs)
        self.slug = f"signature-{code.replace('_', '-')}"


class Forbidden(DomainError):
    """The caller may know the object exists, but may not do this to it."""

    status, slug, title = 403, "forbidden", "Forbidden"


class ConsentRequired(Forbidden):
    """The person's consent does not cover this recipient or purpose."""

    slug, title = "consent-required", "Consent required"


class PreconditionRequired(DomainError):
    """A change needs ``If-Match`` with the current ETag."""

    status, slug, title = 428, "precondition-required", "Precondition Required"


class Stale(DomainError):
    """The ``If-Match`` names a representation that is no longer current."""

    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class NotCanonical(DomainError):
    """A body that has no canonical form, so no signature can cover it."""

    status, slug, title = 400, "not-canonicalizable", "Body has no canonical form"


class IntegrityFailure(DomainError):
    """Stored data failed its integrity check: the service's failure, audited as such."""

    status, slug, title, outcome = 500, "integrity-failure", "Stored data failed its integrity check", "failed"
