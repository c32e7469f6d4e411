"""The BOLA matrix of the pages, generated from the web Blueprint's route map (as the API's is).

Every page with an object id × every role of a person × the caller's relation to the object (author,
recipient, unrelated agency, recipient of a cancelled referral, recipient of a referral cancelled by
withdrawn consent) is asserted allowed or refused: 403 where the page is not for the role (its
``@page`` declaration), else the row's answer for the relation — 404 where the caller may not know
the object exists, 403 where it may. A new page with an object id and no row fails.

Page authors: add a row ``(method, rule): (object kind, expected by relation)`` to ``ROWS`` (the kinds
are those of the API's world: form, referral, draft, transfer, agency, delivery), and for a POST a body
in ``BODIES`` that an allowed caller's request is refused for (so the matrix changes nothing), e.g. a
transition the state machine does not allow.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from nrm_api.accounts.models import USER_ROLES
from nrm_api.crypto.passwords import totp_now
from nrm_api.permissions import role_allows
from tests.conftest import create_user
from tests.referrals.test_bola import RELATIONS, World, _row, _world
from tests.web.support import CSRF

ALLOW = "allow"
REFERRAL = _row(ALLOW, ALLOW, 404, ALLOW, ALLOW)
FORM_READ = _row(ALLOW, ALLOW, 404, 403, 403)
OWN_ONLY = _row(ALLOW, 404, 404, 404, 404)
EVERYONE = _row(ALLOW, ALLOW, ALLOW, ALLOW, ALLOW)
AUTHORITY = _row(403, ALLOW, 403, 403, 403)

#: (method, rule) → (object kind, expected by relation); the recipient is the Ministry (an authority).
ROWS: dict[tuple[str, str], tuple[str, dict[str, object]]] = {
    # the agency admin's people (a person of the author's agency) and webhook deliveries: own agency only
    ("POST", "/admin/users/<username>/disable"): ("user", OWN_ONLY),
    ("POST", "/admin/users/<username>/totp-reset"): ("user", OWN_ONLY),
    ("POST", "/admin/webhook/deliveries/<delivery_id>/retry"): ("delivery", OWN_ONLY),  # not dead: 409, nothing changes
    # an auditor reads any form's access log, whichever agency's it is
    ("GET", "/audit/forms/<form_id>"): ("form", EVERYONE),
    # a referral's two parties; the refer page is for the form's readers
    ("GET", "/referrals/<referral_id>"): ("referral", REFERRAL),
    ("POST", "/referrals/<referral_id>"): ("referral", REFERRAL),
    ("GET", "/forms/<form_id>/refer"): ("form", FORM_READ),
    ("POST", "/forms/<form_id>/refer"): ("form", FORM_READ),
    # the identification form's pages: its readers, and drafts of its own agency only
    ("GET", "/forms/<form_id>"): ("form", FORM_READ),
    ("POST", "/forms/<form_id>"): ("form", FORM_READ),
    ("GET", "/forms/<form_id>/consent-withdrawal"): ("form", FORM_READ),
    ("POST", "/forms/<form_id>/consent-withdrawal"): ("form", FORM_READ),
    # the subject access report: an authority's supervisor only, whichever agency's the form is
    ("GET", "/forms/<form_id>/subject-access/<lang>"): ("form", AUTHORITY),
    ("GET", "/drafts/<draft_id>/<step>"): ("draft", OWN_ONLY),
    ("POST", "/drafts/<draft_id>/<step>"): ("draft", OWN_ONLY),
    ("GET", "/drafts/<draft_id>/check"): ("draft", OWN_ONLY),
    ("POST", "/drafts/<draft_id>/check"): ("draft", OWN_ONLY),
}
#: rule → the form a POST of the matrix sends (besides its CSRF token).
BODIES: dict[str, dict[str, Any]] = {
    # no referral ever becomes "requested" again; the revision is the first one
    "/referrals/<referral_id>": {"status": "requested", "revision": "1"},
    # no such purpose: refused before anything is written
    "/forms/<form_id>/refer": {"purpose": "nonsense", "to_agency": ""},
    "/forms/<form_id>": {"action": "look"},  # no such action: the form is shown again, nothing changes
    "/forms/<form_id>/consent-withdrawal": {"action": "withdraw"},  # refused (422): when and by whom missing
    "/drafts/<draft_id>/<step>": {"person.number_of_children": "two", "action": "continue"},  # refused (422)
    "/drafts/<draft_id>/check": {"action": "look"},  # not "submit": the answers are shown again
}
#: Path parameters that are no object (a draft's step name, …) → the value the matrix puts there.
FIXED: dict[str, str] = {"step": "person", "lang": "en"}


def _page_routes(app: Flask) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("web.") and rule.endpoint != "web.static" and "<" in rule.rule
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}


def test_every_page_with_an_object_id_has_a_row(app: Flask) -> None:
    routes = _page_routes(app)
    assert routes == set(ROWS), f"add a row for: {sorted(routes - set(ROWS))}; stale rows: {set(ROWS) - routes}"


def test_every_page_declares_who_may_open_it(app: Flask) -> None:
    undeclared = sorted(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("web.")
                        and rule.endpoint != "web.static"
                        and not hasattr(app.view_functions[rule.endpoint], "__page__"))
    assert undeclared == [], "decorate with @page(...) or @open_page"


def sign_in(app: Flask, user: dict[str, Any]) -> FlaskClient:
    """A browser-like client signed in through /login as ``user`` (password, then code)."""
    client = app.test_client()
    token = _csrf(client.get("/login"))
    client.post("/login", data={"username": user["username"], "password": user["password"], "csrf_token": token})
    answer = client.post("/login", data={"otp": totp_now(user["secret"]), "csrf_token": _csrf(client.get("/login"))})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    return client


def _csrf(answer: Any) -> str:
    found = CSRF.search(answer.get_data(as_text=True))
    assert found, "no csrf_token on the page"
    return found.group(1)


def _expected(app: Flask, method: str, rule: str, role: str, relation: str) -> object:
    endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule and method in (r.methods or ()))
    declared = app.view_functions[endpoint].__page__
    roles, permissions = declared.get("roles"), declared.get("permissions", ())
    if (roles is not None and role not in roles) or not all(role_allows(role, p) for p in permissions):
        return 403
    return ROWS[(method, rule)][1][relation]


def _path(rule: str, kind: str, world: World, relation: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return FIXED.get(name, world.objects[kind][relation])

    return re.sub(r"<([^>]+)>", value, rule)


def test_the_page_bola_matrix(app: Flask, client: FlaskClient) -> None:
    if not ROWS:
        assert _page_routes(app) == set()  # nothing to check yet: no page has an object id
        return
    world = _world(client)
    world.objects["user"] = dict.fromkeys(RELATIONS, create_user("caseworker", world.agencies["author"])["username"])
    browsers = {(relation, role): sign_in(app, create_user(role, world.agencies[relation], totp=True))
                for relation in RELATIONS for role in USER_ROLES}
    checked = []
    for (method, rule), (kind, _) in sorted(ROWS.items()):
        for role in USER_ROLES:
            for relation in RELATIONS:
                browser = browsers[(relation, role)]
                path = _path(rule, kind, world, relation)
                data = None
                if method == "POST":
                    data = {**BODIES.get(rule, {}), "csrf_token": _csrf(browser.get("/account"))}
                answer = browser.open(path, method=method, data=data)
                expected = _expected(app, method, rule, role, relation)
                if expected == ALLOW:
                    assert answer.status_code not in (403, 404), (method, rule, role, relation, answer.status_code)
                else:
                    assert answer.status_code == expected, (method, rule, role, relation, answer.status_code)
                checked.append(answer.status_code)
    assert len(checked) == len(ROWS) * len(USER_ROLES) * len(RELATIONS)


def test_the_matrix_signs_each_person_in_through_the_pages(app: Flask) -> None:
    browser = sign_in(app, create_user("auditor", totp=True))
    assert browser.get("/account").status_code == 200
    assert app.test_client().get("/account").status_code == 303
