"""The subject access report in the web form: the Ministry's supervisor downloads it; nobody else may.

Over real HTTP and in a real browser against a served app: the download verifies with
``nrm-api subject-access --verify`` against the served JWKS, holds the form's every version, is audited
``form:subject-access``; other agencies' people and other roles get 403, an unknown form 404.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from nrm_api.client import NrmClient
from tests.conftest import create_agency, create_client
from tests.forms.helpers import adult
from tests.web.support import Http, WebServer, sign_in

Axe = Any
NEW_PHONE = "+375290003344"
LABELS = {"ru": "Download in Russian", "be": "Download in Belarusian", "en": "Download in English"}


@pytest.fixture(scope="module")
def case(web: WebServer) -> dict[str, Any]:
    """A form in two versions by an NGO's system, referred to the Ministry: its id and the two agencies."""
    with web.with_app():
        ngo = create_agency()
        client_id, private = create_client(ngo)
        ministry = create_agency(kind="authority")
    sdk = NrmClient(web.base, client_id, private)
    form = sdk.submit_form(adult())
    amended = adult()
    amended["person"]["mobile_phone"] = NEW_PHONE
    sdk.signed_write("PUT", f"/api/v1/forms/{form['id']}", amended, {"If-Match": form["etag"]})
    sdk.refer(form["id"], ministry, "identification")
    return {"id": str(form["id"]), "ngo": ngo, "ministry": ministry}


def _verify(web: WebServer, report: Path, tmp_path: Path) -> str:
    jwks = tmp_path / "jwks.json"
    with urllib.request.urlopen(f"{web.base}/.well-known/jwks.json", timeout=30) as answer:  # noqa: S310
        jwks.write_bytes(answer.read())
    done = web.server.cli("subject-access", "--verify", str(report), "--jwks", str(jwks))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_ministrys_supervisor_downloads_a_report_that_verifies(
        web: WebServer, browser: Any, case: dict[str, Any], axe: Axe, tmp_path: Path) -> None:
    supervisor = web.add_user("supervisor", agency=case["ministry"])
    context = browser.new_context(locale="en-GB", base_url=web.base, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        sign_in(page, supervisor, f"/forms/{case['id']}")
        assert page.locator("#subject-access-title").inner_text() == "Subject access report"
        axe(page)
        with page.expect_download() as download:
            page.click(f"a:has-text('{LABELS['en']}')")
        assert download.value.suggested_filename == f"subject-access-{case['id']}-en.html"
        saved = tmp_path / "report.html"
        download.value.save_as(saved)
    finally:
        context.close()
    assert "signed by the service, unchanged" in _verify(web, saved, tmp_path)
    text = saved.read_text(encoding="utf-8")
    assert "Version 1 of" in text and "Version 2 of" in text and NEW_PHONE in text  # every version, opened
    events = web.events(action="form:subject-access", resource=f"form:{case['id']}", outcome="allowed")
    assert [(event["actor"], event["agency"]) for event in events] == [
        (f"user:{supervisor['username']}", case["ministry"])]
    # one changed byte and the report no longer verifies
    changed = tmp_path / "changed.html"
    changed.write_text(text.replace(NEW_PHONE, "+375290003345"), encoding="utf-8")
    assert web.server.cli("subject-access", "--verify", str(changed)).returncode == 1


@pytest.mark.parametrize("lang", ["ru", "be", "en"])
def test_the_download_is_an_attachment_with_its_own_policy(
        web: WebServer, case: dict[str, Any], lang: str, tmp_path: Path) -> None:
    http = Http(web.base, accept_language=lang)
    http.sign_in(web.add_user("supervisor", agency=case["ministry"]))
    page = http.get(f"/forms/{case['id']}")
    assert f"/forms/{case['id']}/subject-access/{lang}" in page.text
    answer = http.get(f"/forms/{case['id']}/subject-access/{lang}")
    assert answer.status == 200
    assert answer.headers["Content-Disposition"] == f'attachment; filename="subject-access-{case["id"]}-{lang}.html"'
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Cache-Control"] == "no-store"
    style = re.search(r"<style>(.*?)</style>", answer.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode("utf-8")).digest()).decode()
    assert answer.headers["Content-Security-Policy"] == f"default-src 'none'; style-src 'sha256-{digest}'; sandbox"
    assert f'<html lang="{lang}"' in answer.text
    report = tmp_path / f"report-{lang}.html"
    report.write_bytes(answer.text.encode("utf-8"))
    _verify(web, report, tmp_path)
    # the form's own page keeps the pages' policy
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_nobody_else_may_download_it_and_an_unknown_form_is_404(web: WebServer, case: dict[str, Any]) -> None:
    path = f"/forms/{case['id']}/subject-access/en"
    refused = {
        "the author's caseworker": web.add_user("caseworker", agency=case["ngo"]),
        "the author's supervisor": web.add_user("supervisor", agency=case["ngo"]),
        "another NGO's supervisor": web.add_user("supervisor"),
        "an international organisation's supervisor": web.add_user("supervisor", kind="international"),
        "the Ministry's caseworker": web.add_user("caseworker", agency=case["ministry"]),
        "the Ministry's auditor": web.add_user("auditor", agency=case["ministry"]),
    }
    for who, user in refused.items():
        http = Http(web.base)
        http.sign_in(user)
        assert http.get(path).status == 403, who
        if user["role"] == "caseworker" and user["agency"] == case["ngo"]:
            assert "subject-access" not in http.get(f"/forms/{case['id']}").text, who  # no link offered
        denied = web.events(actor=f"user:{user['username']}", outcome="denied")
        assert denied and denied[-1]["resource"] in (f"form:{case['id']}", f"path:{path}"), who
    supervisor = Http(web.base)
    supervisor.sign_in(web.add_user("supervisor", agency=case["ministry"]))
    assert supervisor.get("/forms/no-such-form/subject-access/en").status == 404
    assert supervisor.get(f"/forms/{case['id']}/subject-access/de").status == 404
    assert web.events(action="form:subject-access", resource="form:no-such-form")[-1]["outcome"] != "allowed"
    allowed = web.events(action="form:subject-access", outcome="allowed")
    assert all(event["agency"] == case["ministry"] for event in allowed)
