"""Every API view declares the permission it requires; roles are data."""

from __future__ import annotations

from flask import Flask

from nrm_api.accounts.auth import PUBLIC
from nrm_api.accounts.models import ROLES
from nrm_api.permissions import ROLE_PERMISSIONS, Permission

#: The only API endpoints anyone may call without a token.
PUBLIC_ENDPOINTS = {"auth.token", "auth.login"}


def _declared(app: Flask) -> dict[str, object]:
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            view = app.view_functions[rule.endpoint]
            found[rule.endpoint] = getattr(view, "__permission__", None)
    return found


def test_every_api_endpoint_declares_a_permission(app: Flask) -> None:
    declared = _declared(app)
    assert declared, "no /api/v1 endpoint found"
    missing = sorted(endpoint for endpoint, permission in declared.items() if permission is None)
    assert not missing, f"endpoints without @requires or @public: {missing}"


def test_only_sign_in_is_public(app: Flask) -> None:
    public = {endpoint for endpoint, permission in _declared(app).items() if permission == PUBLIC}
    assert public == PUBLIC_ENDPOINTS


def test_declared_permissions_are_permissions_and_every_role_is_known(app: Flask) -> None:
    for permission in _declared(app).values():
        assert permission == PUBLIC or isinstance(permission, Permission)
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def test_the_openapi_document_names_each_endpoints_permission(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    agencies = spec["paths"]["/api/v1/agencies"]["get"]
    assert agencies["x-permission"] == "agency:read"
    assert agencies["security"] == [{"bearerAuth": []}, {"clientCredentials": []}]
