"""What every operation of the API answers besides its own success: declared once, for the spec.

An apispec plugin that flask-smorest's ``Api`` loads (``extensions.Api``), so it sits below the
doors: the OpenAPI document has no catch-all ``default``, each operation names the statuses the
shared plumbing answers and the headers its answers carry.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

_BODY_METHODS = {"post", "put", "patch"}


class DeclaredRefusals(BasePlugin):
    """Declare on each operation the refusals the shared plumbing answers, so none is left to ``default``.

    Every authenticated operation may answer 429 (a flood of refusals from one address); one with an id in
    its path 400 (an id too long) and 404; one with a JSON body 400 (malformed, duplicate members, too deep),
    413, 415 and 422; a signed write 400, 401 (the signature), 409 and 422, and with ``If-Match`` 412 and 428.
    """

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        """Add the refusals each of ``operations`` may answer, leaving those it documents itself."""
        for method, operation in (operations or {}).items():
            for status in sorted(_refusals(method, str(path), operation)):
                operation.setdefault("responses", {}).setdefault(str(status), _STATUS_COMPONENT[status])
            _declare_headers(method, str(path), operation)


#: The answers signed by the service (``replies.signed``): a case's form, referral, history and transfer.
SIGNED_READS = {"/api/v1/forms/{form_id}", "/api/v1/referrals/{referral_id}",
                "/api/v1/referrals/{referral_id}/history", "/api/v1/transfers/{transfer_id}"}
_HEADERS = {
    "ETag": {"description": "The version to send back in If-Match.", "schema": {"type": "string"}},
    "Location": {"description": "Where the new resource is read.", "schema": {"type": "string"}},
    "X-JWS-Signature": {"description": "The service's detached JWS (typ nrm-response+jws) over the RFC 8785 "
                        "canonical body.", "schema": {"type": "string"}},
}


def _declare_headers(method: str, path: str, operation: dict[str, Any]) -> None:
    """Name the headers a success carries: ETag and Location of signed writes, the signature of signed reads."""
    signed_write = any(isinstance(p, dict) and p.get("name") == "X-JWS-Signature"
                       for p in operation.get("parameters", []))
    for status, response in operation.get("responses", {}).items():
        if not isinstance(response, dict) or not str(status).startswith("2"):
            continue
        names = []
        if signed_write:
            names = ["ETag", "Location"] if str(status) == "201" else ["ETag"]
        elif method == "get" and path in SIGNED_READS:
            names = ["X-JWS-Signature", "ETag"] if "history" not in path else ["X-JWS-Signature"]
        if names:
            response.setdefault("headers", {}).update({name: _HEADERS[name] for name in names})


_STATUS_COMPONENT = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 409: "CONFLICT",
                     412: "PRECONDITION_FAILED", 413: "REQUEST_ENTITY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
                     422: "UNPROCESSABLE_ENTITY", 428: "PRECONDITION_REQUIRED", 429: "TOO_MANY_REQUESTS"}


def _refusals(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
    headers = {p.get("name") for p in parameters if p.get("in") == "header"}
    content = operation.get("requestBody", {}).get("content", {})
    found: set[int] = set()
    if operation.get("security"):
        found.add(429)
    if "{" in path:
        found |= {400, 404}
    if method in _BODY_METHODS and "application/json" in content:
        found |= {400, 413, 415, 422}
    if "X-JWS-Signature" in headers:
        found |= {400, 401, 409, 422}
    if "If-Match" in headers:
        found |= {412, 428}
    return found
