"""Every refusal of every API route is audited by the one error boundary, not by each call site."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from nrm_api.accounts.auth import PUBLIC
from nrm_api.permissions import ROLE_PERMISSIONS, Permission
from tests.conftest import audit_events, bearer, create_user, login_token

_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")  # <int(max=…):position> too
#: Routes a caller holding their permission is not refused with a made-up id, query or body:
#: they take none of them and ignore a query.
NOTHING_TO_REFUSE = {"auth.revoke", "audit.checkpoints", "audit.verify", "webhooks.show", "drafts.list_drafts",
                     "vocabulary.vocabulary", "agencies.hsds_directory", "statistics.get_statistics"}


def _routes(app: Flask) -> list[tuple[Rule, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule, method))
    return found


def _path(rule: Rule) -> str:
    def fill(match: re.Match[str]) -> str:
        return "999999" if match.group(1) == "int" else "00000000-0000-4000-8000-000000000000"

    return _PARAM.sub(fill, rule.rule)


def _permission(app: Flask, rule: Rule) -> Any:
    return getattr(app.view_functions[rule.endpoint], "__permission__", None)


def test_every_route_audits_a_request_without_a_token(app: Flask) -> None:
    refused = []
    for number, (rule, method) in enumerate(_routes(app)):
        if _permission(app, rule) == PUBLIC:
            continue
        address = f"10.9.{number // 250}.{number % 250 + 1}"  # its own address: unauthenticated refusals aggregate
        http = app.test_client()
        response = http.open(_path(rule), method=method, json={} if method in {"POST", "PUT", "PATCH"} else None,
                             environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 401, (rule.rule, method, response.status_code)
        events = audit_events(client_address=address, outcome="denied")
        assert [e.reason for e in events] == ["missing_token"], (rule.rule, method)
        refused.append(rule.endpoint)
    assert len(refused) > 30


def _role_for(permission: Permission) -> str:
    return next(role for role, held in ROLE_PERMISSIONS.items() if permission in held and role != "system")


def test_every_route_audits_a_refused_request_of_a_caller_who_may_call_it(app: Flask) -> None:
    """A made-up id, an unknown query parameter or a body that is no document: refused, and audited."""
    http = app.test_client()
    users: dict[str, dict[str, Any]] = {}
    answered = set()
    for rule, method in _routes(app):
        permission = _permission(app, rule)
        if permission == PUBLIC:
            continue
        role = _role_for(permission)
        user = users.setdefault(role, create_user(role))
        token, subject = login_token(http, user), f"user:{user['username']}"  # afresh: a route may revoke it
        before = len(audit_events(actor=subject, outcome="denied"))
        body = {"json": ["not", "a", "document"]} if method in {"POST", "PUT", "PATCH"} else {}
        response = http.open(_path(rule) + "?nonsense=1", method=method, headers=bearer(token), **body)
        if response.status_code < 400:
            answered.add(rule.endpoint)
            continue
        assert response.status_code < 500, (rule.rule, method, response.status_code, response.get_json())
        events = audit_events(actor=subject, outcome="denied")
        assert len(events) == before + 1, (rule.rule, method, response.status_code, response.get_json())
        assert events[-1].action == str(permission), (rule.rule, method, events[-1].action)
    assert answered == NOTHING_TO_REFUSE
