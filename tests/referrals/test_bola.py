"""The BOLA matrix, generated from the route map.

Every endpoint with an object id × every role × the caller's relation to the object (author,
recipient, unrelated agency, recipient of a cancelled referral, recipient of a referral cancelled
by withdrawn consent) is asserted allowed or denied: 403 where the role lacks the permission or
the caller may know the object exists, 404 where it may not. Writes are sent unsigned, so an
allowed one stops at the signature or precondition check and changes nothing. A new route with
an object id and no row here fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from nrm_api.accounts.models import ROLES
from nrm_api.audit import log as audit_log
from nrm_api.audit import sequencer
from nrm_api.audit.models import AuditEvent, AuditLeaf
from nrm_api.extensions import db
from nrm_api.permissions import role_allows
from nrm_api.webhooks.models import WebhookDelivery
from tests.conftest import bearer, create_user, login_token
from tests.forms.helpers import adult, agency

ALLOW = "allow"
RELATIONS = ("author", "recipient", "unrelated", "cancelled", "withdrawn")


def _row(author: object, recipient: object, unrelated: object, cancelled: object, withdrawn: object
         ) -> dict[str, object]:
    return dict(zip(RELATIONS, (author, recipient, unrelated, cancelled, withdrawn), strict=True))


FORM_READ = _row(ALLOW, ALLOW, 404, 403, 403)
REFERRAL = _row(ALLOW, ALLOW, 404, ALLOW, ALLOW)  # both sides keep the referral's record, final or not
OWN_ONLY = _row(ALLOW, 404, 404, 404, 404)
PARTIES = _row(ALLOW, ALLOW, 404, 404, 404)
EVERYONE = _row(ALLOW, ALLOW, ALLOW, ALLOW, ALLOW)
OWN_AGENCY = _row(ALLOW, 403, 403, 403, 403)

#: (method, rule) → (object kind, expected by relation). The recipient is the Ministry (an authority).
ROWS: dict[tuple[str, str], tuple[str, dict[str, object]]] = {
    ("GET", "/api/v1/forms/<form_id>"): ("form", FORM_READ),
    ("PUT", "/api/v1/forms/<form_id>"): ("form", _row(ALLOW, 403, 404, 403, 403)),
    ("POST", "/api/v1/forms/<form_id>/decision"): ("form", _row(403, ALLOW, 404, 403, 403)),
    ("POST", "/api/v1/forms/<form_id>/consent-withdrawal"): ("form", FORM_READ),
    ("GET", "/api/v1/forms/<form_id>/access-log"): ("form", EVERYONE),
    ("GET", "/api/v1/drafts/<draft_id>"): ("draft", OWN_ONLY),
    ("PUT", "/api/v1/drafts/<draft_id>"): ("draft", OWN_ONLY),
    ("DELETE", "/api/v1/drafts/<draft_id>"): ("draft", OWN_ONLY),
    ("GET", "/api/v1/referrals/<referral_id>"): ("referral", REFERRAL),
    ("POST", "/api/v1/referrals/<referral_id>/status"): ("referral", REFERRAL),
    ("GET", "/api/v1/referrals/<referral_id>/history"): ("referral", REFERRAL),
    ("GET", "/api/v1/transfers/<transfer_id>"): ("transfer", PARTIES),
    ("POST", "/api/v1/transfers/<transfer_id>/status"): ("transfer", PARTIES),
    ("GET", "/api/v1/agencies/<agency_id>"): ("agency", EVERYONE),
    ("PUT", "/api/v1/agencies/<agency_id>/services"): ("agency", OWN_AGENCY),
    ("PATCH", "/api/v1/agencies/<agency_id>/services/<service_code>"): ("agency", OWN_AGENCY),
    ("PUT", "/api/v1/agencies/<agency_id>/address"): ("agency", OWN_AGENCY),
    ("GET", "/api/v1/audit/events/<int(max=9007199254740991):position>/proof"): ("position", EVERYONE),
    ("GET", "/api/v1/audit/events/by-hash/<string:event>"): ("event", EVERYONE),
    ("POST", "/api/v1/webhooks/deliveries/<delivery_id>/retry"): ("delivery", OWN_ONLY),
}

BODIES: dict[str, Any] = {
    "/api/v1/drafts/<draft_id>": adult(),
    "/api/v1/agencies/<agency_id>/services": {"services": [{"service": "accommodation", "capacity": 10,
                                                             "vacancies": 5}]},
    "/api/v1/agencies/<agency_id>/services/<service_code>": {"vacancies": 4},
    "/api/v1/agencies/<agency_id>/address": {"address": "Minsk, a street"},
}


@dataclass
class World:
    """Five agencies in every relation to one set of objects, and a token per agency and role."""

    agencies: dict[str, str]
    objects: dict[str, dict[str, str]]
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)


def _world(client: FlaskClient) -> World:
    author, moi = agency(client, "ngo"), agency(client, "authority")
    unrelated, cancelled, withdrawn = agency(client, "ngo"), agency(client, "ngo"), agency(client, "ngo")
    assert client.put("/api/v1/webhooks/endpoint", json={"url": "https://hooks.example.org/nrm"},
                      headers=bearer(author.sdk.token())).status_code == 200
    form = author.sdk.submit_form(adult())["id"]
    live = author.sdk.refer(form, moi.id, "identification")["id"]
    gone = author.sdk.refer(form, cancelled.id, "assistance", services=["escort"])["id"]
    author.sdk.set_status(gone, "cancelled", reason="placed elsewhere")
    other = author.sdk.submit_form(adult())["id"]
    ended = author.sdk.refer(other, withdrawn.id, "assistance", services=["escort"])["id"]
    author.sdk.signed_write("POST", f"/api/v1/forms/{other}/consent-withdrawal",
                            {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"})
    transfer = author.sdk.signed_write("POST", "/api/v1/transfers",
                                       {"form_id": form, "to_agency": moi.id, "reason": "better_placed"})[1]["id"]
    draft = client.post("/api/v1/drafts", json=adult(), headers=bearer(author.sdk.token())).get_json()["id"]
    assert client.put(f"/api/v1/agencies/{author.id}/services", json=BODIES["/api/v1/agencies/<agency_id>/services"],
                      headers=bearer(author.sdk.token())).status_code == 200
    sequencer.run(db.session, audit_log.signer())
    delivery = db.session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.agency_id == author.id)).first()
    assert delivery is not None
    by_relation = {"author": author, "recipient": moi, "unrelated": unrelated, "cancelled": cancelled,
                   "withdrawn": withdrawn}
    objects = {
        "form": {"author": form, "recipient": form, "unrelated": form, "cancelled": form, "withdrawn": other},
        "referral": {"author": live, "recipient": live, "unrelated": live, "cancelled": gone, "withdrawn": ended},
        "draft": dict.fromkeys(RELATIONS, draft),
        "transfer": dict.fromkeys(RELATIONS, transfer),
        "agency": dict.fromkeys(RELATIONS, author.id),
        "position": dict.fromkeys(RELATIONS, "1"),
        "event": dict.fromkeys(RELATIONS, db.session.scalars(select(AuditEvent.sha256).join(
            AuditLeaf, AuditLeaf.event_id == AuditEvent.id)).first()),
        "delivery": dict.fromkeys(RELATIONS, delivery),
    }
    world = World({relation: a.id for relation, a in by_relation.items()}, objects)
    for relation, member in by_relation.items():
        world.tokens[(relation, "system")] = member.sdk.token()
        for role in ROLES[1:]:
            world.tokens[(relation, role)] = login_token(client, create_user(role, member.id))
    return world


def _expected(app: Flask, method: str, rule: str, role: str, relation: str) -> object:
    view = app.view_functions[next(r.endpoint for r in app.url_map.iter_rules()
                                   if r.rule == rule and method in (r.methods or ()))]
    if not role_allows(role, view.__permission__):
        return 403
    kind, expected = ROWS[(method, rule)]
    if kind == "agency" and role == "network_admin":
        return ALLOW
    return expected[relation]


def _path(rule: str, kind: str, world: World, relation: str) -> str:
    return re.sub(r"<[^>]+>", world.objects[kind][relation], rule.replace("<service_code>", "accommodation"))


def test_every_route_with_an_object_id_has_a_row(app: Flask) -> None:
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              and "<" in rule.rule and "static" not in rule.rule
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert routes == set(ROWS), f"add a row for: {sorted(routes - set(ROWS))}; stale rows: {set(ROWS) - routes}"


def test_the_bola_matrix(app: Flask, client: FlaskClient) -> None:
    world = _world(client)
    checked: list[tuple[str, str, str, str, int]] = []
    for (method, rule), (kind, _) in sorted(ROWS.items(), key=lambda item: item[0][0] == "DELETE"):
        for role in ROLES:
            for relation in RELATIONS:
                path = _path(rule, kind, world, relation)
                response = client.open(path, method=method, json=BODIES.get(rule, {}) if method != "GET" else None,
                                       headers=bearer(world.tokens[(relation, role)]))
                expected = _expected(app, method, rule, role, relation)
                status = response.status_code
                if expected == ALLOW:
                    assert status not in (403, 404), (method, rule, role, relation, status, response.get_json())
                else:
                    assert status == expected, (method, rule, role, relation, status, response.get_json())
                checked.append((method, rule, role, relation, status))
                if method == "DELETE" and status == 204:  # the draft is gone: make the next caller one
                    fresh = client.post("/api/v1/drafts", json=adult(),
                                        headers=bearer(world.tokens[("author", "system")])).get_json()["id"]
                    world.objects["draft"] = dict.fromkeys(RELATIONS, fresh)
    assert len(checked) == len(ROWS) * len(ROLES) * len(RELATIONS)
    denied = {status for *_, status in checked if status in (403, 404)}
    allowed = [row for row in checked if row[-1] not in (403, 404)]
    assert denied == {403, 404} and allowed
