"""The SDK: plain HTTP with the standard library, every signature made and checked in ``nrm_api.crypto``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..crypto import TokenError
from ..crypto.canonical import canonical, sha256_hex
from ..crypto.jose import sign_jwt, verify_jwt
from ..crypto.jws import sign_detached, verify_detached_by_service

#: ``(method, url, headers, body) -> (status, headers, body)``
Transport = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, Mapping[str, str], bytes]]


class NrmError(Exception):
    """The service refused a request; ``problem`` is its RFC 9457 body (or OAuth error)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type') or problem.get('error')}: "
                         f"{problem.get('detail') or problem.get('error_description') or problem.get('title')}")
        self.status = status
        self.problem = dict(problem)


def urllib_transport(method: str, url: str, headers: Mapping[str, str], body: bytes | None
                     ) -> tuple[int, Mapping[str, str], bytes]:
    """Real HTTP with ``urllib``: no dependency beyond the standard library."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the caller's base URL
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@dataclass
class NrmClient:
    """An agency system's session with nrm-api.

    ``base_url`` is wherever this system reaches the service (behind a proxy, an internal address);
    the assertion's audience and the token endpoint come from the service's RFC 8414 metadata, so
    they are the service's own names whatever URL reaches it. Give ``issuer`` to pin the one expected.
    """

    base_url: str
    client_id: str
    private_jwk: Mapping[str, str]
    transport: Transport = urllib_transport
    issuer: str | None = None
    _token: str | None = None
    _token_expires: float = 0.0
    _jwks: list[dict[str, str]] | None = None
    _metadata: dict[str, Any] | None = None

    def _call(self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
              auth: bool = True) -> tuple[int, Mapping[str, str], Any]:
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self.token()}"
        url = path if path.startswith(("https://", "http://")) else self.base_url.rstrip("/") + path
        status, received, raw = self.transport(method, url, sent, body)
        data = json.loads(raw) if raw else None
        if status >= 400:
            raise NrmError(status, data or {})
        return status, received, data

    def token(self) -> str:
        """An access token, fetched with a fresh signed assertion when the last one is about to expire."""
        if self._token and time.time() < self._token_expires - 30:
            return self._token
        now = int(time.time())
        metadata = self.metadata()
        assertion = sign_jwt({"iss": self.client_id, "sub": self.client_id, "aud": metadata["issuer"],
                              "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120}, self.private_jwk,
                             {"alg": "Ed25519", "typ": "client-authentication+jwt", "kid": self.private_jwk["kid"]})
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": self.client_id, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}).encode()
        _, _, data = self._call("POST", self._reachable(metadata["token_endpoint"], metadata["issuer"]), form,
                                {"Content-Type": "application/x-www-form-urlencoded"}, auth=False)
        self._token, self._token_expires = data["access_token"], time.time() + int(data["expires_in"])
        return str(self._token)

    def metadata(self) -> dict[str, Any]:
        """The service's OAuth authorization-server metadata (RFC 8414), fetched once."""
        if self._metadata is None:
            _, _, data = self._call("GET", "/.well-known/oauth-authorization-server", auth=False)
            needed = ("issuer", "token_endpoint")
            if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in needed):
                raise NrmError(0, {"type": "metadata-invalid", "detail": "the metadata lacks issuer or token_endpoint"})
            if self.issuer is not None and data["issuer"] != self.issuer.rstrip("/"):
                raise NrmError(0, {"type": "issuer-mismatch", "detail": f"the service is {data['issuer']}"})
            self._metadata = dict(data)
        return self._metadata

    def _reachable(self, endpoint: str, issuer: str) -> str:
        """An endpoint of the service itself, by the URL this client reaches it at; another host's as given."""
        if endpoint.startswith(issuer.rstrip("/") + "/"):
            return endpoint[len(issuer.rstrip("/")):]
        return endpoint

    def jwks(self) -> list[dict[str, str]]:
        """The service's public keys (fetched once)."""
        if self._jwks is None:
            _, _, data = self._call("GET", "/.well-known/jwks.json", auth=False)
            self._jwks = list(data["keys"])
        return self._jwks

    def signed_write(self, method: str, path: str, document: Any, headers: Mapping[str, str] | None = None
                     ) -> tuple[Mapping[str, str], dict[str, Any]]:
        """Sign ``document``'s canonical form, send it, and check the service's receipt covers it."""
        payload = canonical(document)
        # Bound to this method and path (htm, htu) with a fresh jti: a signature authorises one request.
        signature = sign_detached(payload, self.private_jwk, method, path)
        sent = {"Content-Type": "application/json", "X-JWS-Signature": signature, **(headers or {})}
        _, received, data = self._call(method, path, payload, sent)
        claims = self.verify_receipt(data["receipt"])
        if claims["sha256"] != sha256_hex(payload):
            raise NrmError(0, {"type": "receipt-mismatch", "detail": "the receipt is for another document"})
        return received, data

    def verify_receipt(self, receipt: str) -> dict[str, Any]:
        """Check a receipt against the service's JWKS; return its claims."""
        try:
            _, claims = verify_jwt(receipt, self.jwks())
        except TokenError as error:
            raise NrmError(0, {"type": "receipt-invalid", "detail": error.message}) from None
        return claims

    def submit_form(self, document: Mapping[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a signed form; a retry with the same ``idempotency_key`` returns the first answer."""
        received, data = self.signed_write("POST", "/api/v1/forms", document,
                                           {"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
        return {**data, "etag": received.get("ETag")}

    def signed_read(self, path: str) -> dict[str, Any]:
        """GET an answer carrying case data, checking the service's signature over it; ``etag`` added."""
        _, received, data = self._call("GET", path)
        lowered = {k.lower(): v for k, v in received.items()}
        if not verify_detached_by_service(lowered.get("x-jws-signature"), canonical(data), self.jwks()):
            raise NrmError(0, {"type": "response-signature-invalid", "detail": "the answer is not the service's"})
        return {**data, "etag": lowered.get("etag")}

    def read_form(self, form_id: str) -> dict[str, Any]:
        """Read a form, checking the service's signature over the answer."""
        return self.signed_read(f"/api/v1/forms/{form_id}")

    def refer(self, form_id: str, to_agency: str, purpose: str, services: list[str] | None = None,
              priority: str = "normal", note: str | None = None, idempotency_key: str | None = None,
              **extra: Any) -> dict[str, Any]:
        """Refer a form to another agency (signed); a retry with the same key returns the first answer."""
        body: dict[str, Any] = {"form_id": form_id, "to_agency": to_agency, "purpose": purpose,
                                "services": services or [], "priority": priority, **extra}
        if note is not None:
            body["note"] = note
        received, data = self.signed_write("POST", "/api/v1/referrals", body,
                                           {"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
        return {**data, "etag": received.get("ETag")}

    def referral(self, referral_id: str) -> dict[str, Any]:
        """One referral your agency sent or received."""
        return self.signed_read(f"/api/v1/referrals/{referral_id}")

    def set_status(self, referral_id: str, status: str, reason: str | None = None, etag: str | None = None,
                   **extra: Any) -> dict[str, Any]:
        """Move a referral on (signed); without ``etag`` the current one is read first."""
        current = etag or self.referral(referral_id)["etag"]
        body: dict[str, Any] = {"status": status, **extra}
        if reason is not None:
            body["reason"] = reason
        received, data = self.signed_write("POST", f"/api/v1/referrals/{referral_id}/status", body,
                                           {"If-Match": str(current)})
        return {**data, "etag": received.get("ETag")}

    def history(self, referral_id: str) -> dict[str, Any]:
        """A referral's signed events."""
        return self.signed_read(f"/api/v1/referrals/{referral_id}/history")

    def referrals(self, **query: str) -> dict[str, Any]:
        """A page of your agency's referrals (``direction``, ``status``, ``updated_after``, ``cursor``)."""
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        _, _, data = self._call("GET", f"/api/v1/referrals{suffix}")
        return dict(data)

    def changes(self, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        """Your agency's feed after ``cursor``; keep ``next_cursor`` for the next poll."""
        query = urllib.parse.urlencode({"limit": limit, **({"cursor": cursor} if cursor else {})})
        _, _, data = self._call("GET", f"/api/v1/changes?{query}")
        return dict(data)
