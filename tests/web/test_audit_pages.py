"""The auditor's pages in a real browser and over real HTTP: search, a form's access log, downloads, verify."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nrm_api.client import NrmClient
from tests.conftest import create_agency, create_client
from tests.forms.helpers import CANARIES, canary_document
from tests.serving import NRM_API
from tests.web.support import Http, WebServer, sign_in

Shot = Callable[[Any, str], Any]
Axe = Callable[[Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def form_read(web: WebServer) -> dict[str, Any]:
    """A real form full of canaries, submitted and read by an agency system: its id and the system."""
    with web.with_app():
        client_id, private = create_client(create_agency())
    sdk = NrmClient(web.base, client_id, private)
    form_id = str(sdk.submit_form(canary_document())["id"])
    sdk.read_form(form_id)
    with web.with_app():
        ministry = create_agency(kind="authority")
    referral = str(sdk.refer(form_id, ministry, "identification")["id"])
    return {"id": form_id, "actor": f"client:{client_id}", "referral": referral}


def _auditor(web: WebServer) -> dict[str, Any]:
    return web.add_user("auditor", kind="authority")


def _no_case_content(text: str) -> None:
    for field, canary in CANARIES.items():
        assert canary not in text, field


def _offline_verify(path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    done = subprocess.run([NRM_API, "audit", "verify", "--bundle", str(path)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_an_auditor_filters_events_and_downloads_them_and_the_bundle(
        web: WebServer, browser: Any, form_read: dict[str, Any], axe: Axe, shot: Shot, tmp_path: Path,
        javascript: bool) -> None:
    auditor = _auditor(web)
    context = browser.new_context(java_script_enabled=javascript, locale="en-GB", base_url=web.base,
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, auditor, "/audit")
    if javascript:  # axe-core needs scripts: the JS run checks the same pages
        axe(page)
    page.fill("#actor", form_read["actor"])
    page.select_option("#outcome", "allowed")
    page.click("button:has-text('Search')")
    page.wait_for_load_state("load")
    assert "actor=client" in page.url and "outcome=allowed" in page.url
    actors = page.locator("table.events tbody tr td:nth-child(3)").all_inner_texts()
    assert actors and set(actors) == {form_read["actor"]}
    assert f"form:{form_read['id']}" in page.content()
    _no_case_content(page.content())
    shot(page, "filtered")
    if javascript:  # axe-core needs scripts: the JS run checks the same pages
        axe(page)

    with page.expect_download() as csv_download:
        page.click("text=These events as CSV")
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert rows and {row["actor"] for row in rows} == {form_read["actor"]}
    with page.expect_download() as jsonl_download:
        page.click("text=These events as JSON Lines")
    lines = [json.loads(line) for line in Path(jsonl_download.value.path()).read_text().splitlines()]
    assert lines and {line["outcome"] for line in lines} == {"allowed"}
    _no_case_content(Path(csv_download.value.path()).read_text() + Path(jsonl_download.value.path()).read_text())

    assert web.server.cli("audit", "sequence", "--checkpoint").returncode == 0
    with page.expect_download() as bundle_download:
        page.click("text=The whole log as an offline bundle")
    saved = tmp_path / "audit.bundle"
    bundle_download.value.save_as(saved)
    report = _offline_verify(saved)
    assert report["valid"] is True and report["events_checked"] >= 3
    for action, resource in (("audit:export", "audit:export:csv"), ("audit:export", "audit:export:jsonl"),
                             ("audit:export", "audit:export:bundle"), ("audit:read", "audit:events")):
        assert web.events(actor=f"user:{auditor['username']}", action=action, resource=resource), resource
    context.close()


def test_refused_filters_come_back_422_with_the_error_summary(web: WebServer) -> None:
    http = Http(web.base)
    http.sign_in(_auditor(web))
    answer = http.get("/audit?outcome=maybe&since=yesterday&actor=user%3Ax")
    assert answer.status == 422 and 'id="error-summary"' in answer.text
    assert 'href="#outcome"' in answer.text and 'href="#since"' in answer.text
    assert 'value="user:x"' in answer.text  # what was typed is kept
    assert http.get("/audit/export?format=xml").status == 422


def test_the_access_log_of_one_form_names_who_read_it_and_no_value(
        web: WebServer, page: Any, form_read: dict[str, Any], axe: Axe, shot: Shot) -> None:
    auditor = _auditor(web)
    sign_in(page, auditor, f"/audit/forms/{form_read['id']}")
    assert page.inner_text("#form-id") == form_read["id"]
    text = page.inner_text("table.events")
    assert form_read["actor"] in text and "form:read" in text and "form:create" in text
    _no_case_content(page.content())
    shot(page, "form-access-log")
    axe(page)
    assert web.events(actor=f"user:{auditor['username']}", resource=f"access-log:form:{form_read['id']}")


def test_verify_shows_the_result_and_the_checked_size(web: WebServer, page: Any, axe: Axe, shot: Shot) -> None:
    auditor = _auditor(web)
    assert web.server.cli("audit", "sequence", "--checkpoint").returncode == 0
    sign_in(page, auditor, "/audit/verify")
    axe(page)
    page.click("text=Verify now")
    page.wait_for_selector("#verify-result")
    assert page.url.endswith("/audit/verify")
    assert "The log verifies" in page.inner_text("#verify-result")
    assert int(page.inner_text("#verify-size")) >= 1
    shot(page, "verified")
    axe(page)
    page.reload()
    assert page.locator("#verify-result").count() == 0  # the result is shown once, for the run that made it
    verified = web.events(actor=f"user:{auditor['username']}", action="audit:verify")
    assert verified and verified[-1]["reason"] == "valid"


def test_the_audit_pages_are_for_auditors_only(web: WebServer) -> None:
    for role in ("caseworker", "agency_admin"):
        http = Http(web.base)
        http.sign_in(web.add_user(role))
        for path in ("/audit", "/audit/verify", "/audit/bundle", "/audit/export?format=csv", "/audit/forms/x"):
            assert http.get(path).status == 403, (role, path)
    auditor = Http(web.base)
    auditor.sign_in(_auditor(web))
    for path in ("/admin/users", "/admin/webhook", "/admin/services"):
        assert auditor.get(path).status == 403, path


#: Where case content lives (web.md): an auditor's session is refused each of these pages, 403.
CASE_PREFIXES = ("/inbox", "/sent", "/forms", "/drafts", "/referrals")


def _case_pages(web: WebServer) -> list[str]:
    return sorted({rule.rule for rule in web.app.url_map.iter_rules()
                   if rule.endpoint.startswith("web.") and rule.rule.startswith(CASE_PREFIXES)})


def test_an_auditors_session_never_opens_a_case_page(web: WebServer, form_read: dict[str, Any]) -> None:
    from nrm_api.permissions import ROLE_PERMISSIONS, Permission

    casework = ROLE_PERMISSIONS["caseworker"] - ROLE_PERMISSIONS["auditor"]  # every right of casework, none of audit
    assert Permission.FORM_READ in casework and not casework & ROLE_PERMISSIONS["auditor"]
    for rule in _case_pages(web):  # from the route map: /inbox, /forms/<id>, /referrals/<id> … as they are served
        declared = web.app.view_functions[next(r.endpoint for r in web.app.url_map.iter_rules() if r.rule == rule)]
        assert set(declared.__page__["permissions"]) & casework, f"{rule} declares no casework permission"
    http = Http(web.base)
    http.sign_in(_auditor(web))
    ids = {"form_id": form_read["id"], "referral_id": form_read["referral"], "step": "person"}
    for rule in _case_pages(web):
        path = re.sub(r"<(?:[^>:]+:)?([^>]+)>", lambda match: ids.get(match.group(1), form_read["id"]), rule)
        answer = http.get(path)
        assert answer.status == 403, (path, answer.status)
        _no_case_content(answer.text)
