"""The OpenAPI 3.1 document and the JSON Schemas, generated from the code, never by hand."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

OPENAPI_SETTINGS = {
    "API_TITLE": "nrm-api",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
    # Swagger UI would otherwise send the document to an outside validator: the page talks to this host only.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "The exchange of a National Referral Mechanism for victims of trafficking in "
            "human beings: signed forms and referrals, field-level encryption, need-to-know "
            "disclosure and a tamper-evident audit log. The rules integrators rely on first "
            "(authentication, signed writes and their binding, receipts, referral statuses, errors) "
            "are in [docs/contract.md](docs/contract.md), in the repository beside this document "
            "and served by the service at /api/docs/contract.md.\n\n"
            "Signatures in short (all keys Ed25519, all in /.well-known/jwks.json): access tokens are JWTs "
            "with `alg: EdDSA` (typ at+jwt); everything else the service signs says `alg: Ed25519` (RFC 9864). "
            "A `receipt` is a compact JWS, typ nrm-receipt+jwt, whose `sha256` is the lowercase hex SHA-256 "
            "of the RFC 8785 canonical request body. An answer carrying case data has `X-JWS-Signature`: a "
            "detached JWS, typ nrm-response+jws, over the RFC 8785 canonical response body. Client "
            "assertions go to the token endpoint with `aud` the issuer or the token endpoint's URL. Webhooks "
            "are signed per Standard Webhooks v1a (Ed25519 over `{webhook-id}.{webhook-timestamp}.{body}`).",
        },
        "externalDocs": {"description": "The public contract for integrators (v1.1)", "url": "docs/contract.md"},
        "servers": [{"url": "/"}],
    },
}
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"




def register_components(api: Any) -> None:
    """Add the shared components: the bearer scheme and the form document (problems come with responses)."""
    from .forms.decisions import ConsentWithdrawalSchema, DecisionSchema
    from .forms.document import FormDocumentSchema, draft_of
    from .referrals.schemas import (
        ReferralCreateSchema,
        StatusChangeSchema,
        TransferCreateSchema,
        TransferDecisionSchema,
    )

    api.spec.components.schema("FormDocument", schema=FormDocumentSchema)
    api.spec.components.schema("FormDraft", schema=draft_of(FormDocumentSchema))
    api.spec.components.schema("Decision", schema=DecisionSchema)
    api.spec.components.schema("ConsentWithdrawal", schema=ConsentWithdrawalSchema)
    api.spec.components.schema("ReferralCreate", schema=ReferralCreateSchema)
    api.spec.components.schema("StatusChange", schema=StatusChangeSchema)
    api.spec.components.schema("TransferCreate", schema=TransferCreateSchema)
    api.spec.components.schema("TransferDecision", schema=TransferDecisionSchema)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    # agency systems: a client assertion signed with their key (RFC 7523 private_key_jwt) for a token
    api.spec.components.security_scheme("clientCredentials", {
        "type": "oauth2", "description": "client_credentials with client_assertion_type "
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer (private_key_jwt, Ed25519)",
        "flows": {"clientCredentials": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}}})


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``."""
    with app.app_context():
        spec: dict[str, Any] = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return spec


def render(spec: dict[str, Any]) -> dict[str, str]:
    """Every generated file, by path relative to the project root."""
    files = {"openapi.yaml": yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)}
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        standalone = {"$schema": JSON_SCHEMA_DIALECT, "$id": f"{name}.json", "title": name, **_relink(schema)}
        files[f"schemas/{name}.json"] = json.dumps(standalone, indent=2, ensure_ascii=False) + "\n"
    from .forms.examples import EXAMPLES as FORMS
    from .referrals.examples import EXAMPLES as REFERRALS

    for name, make in {**FORMS, **REFERRALS}.items():
        files[f"schemas/examples/{name}.json"] = json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
    return files


def _relink(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (value.replace("#/components/schemas/", "") + ".json" if key == "$ref" else _relink(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_relink(item) for item in node]
    return node


#: How the app is made (``nrm_api.create_app``): passed in by the door, so the wiring may use this module's settings.
AppFactory = Callable[[dict[str, Any]], Flask]


def generated_files(create_app: AppFactory) -> dict[str, str]:
    """Render the files from an app built on a throwaway keyring and an in-memory database."""
    from .crypto.keyring import Keyring

    with tempfile.TemporaryDirectory() as scratch:
        ring = Keyring.create(Path(scratch) / "keyring.json")
        app = create_app({"SECRET_KEY": secrets.token_urlsafe(32), "KEYRING": str(ring.path),
                          "DATABASE_URL": "sqlite://", "BASE_URL": "http://127.0.0.1:8000"})
        return render(document(app))


def drift(root: Path, create_app: AppFactory) -> list[str]:
    """The generated files that differ from what the code generates now."""
    files = generated_files(create_app)
    stale = [path for path, text in files.items()
             if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]
    wanted = set(files)
    extra = [str(p.relative_to(root)) for p in (root / "schemas").rglob("*.json")
             if str(p.relative_to(root)) not in wanted]
    return sorted(stale + extra)


def write(root: Path, create_app: AppFactory) -> list[str]:
    """Regenerate ``openapi.yaml`` and ``schemas/`` under ``root``; return what was written."""
    files = generated_files(create_app)
    (root / "schemas" / "examples").mkdir(parents=True, exist_ok=True)
    for stale in (root / "schemas").rglob("*.json"):
        if str(stale.relative_to(root)) not in files:
            stale.unlink()
    for path, text in files.items():
        (root / path).write_text(text, encoding="utf-8")
    return sorted(files)
