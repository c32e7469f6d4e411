"""The identification form in a real browser (Debian's chromium), JavaScript on and off.

Every page a test visits is checked by axe-core and photographed (under the run's screenshots folder).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nrm_api.web.form_definition import STEPS
from tests.web.support import Http, WebServer, axe_check, fill_step, sign_in
from tests.web.test_form_pages import IMAGE, SCRIPT, STEP_DATA, _refer, fill_and_submit

#: In the browser on SQLite alone: the same pages over HTTP run on both backends, and the Belarus flow
#: (tests/web/test_belarus_flow.py) drives the browser on PostgreSQL too.
pytestmark = pytest.mark.parametrize("web", ["sqlite"], indirect=True, scope="module")

Shot = Callable[[Any, str], Path]


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def browser_page(request: pytest.FixtureRequest) -> Any:
    """A page with JavaScript on, then one with it off."""
    return request.getfixturevalue("page" if request.param else "page_nojs")


def _continue(page: Any) -> None:
    page.click('button[name="action"][value="continue"]')
    page.wait_for_load_state("load")


def _look(page: Any, shot: Shot, name: str) -> None:
    axe_check(page)
    shot(page, name)


def test_a_caseworker_fills_the_form_step_by_step_checks_and_submits(web: WebServer, browser_page: Any,
                                                                      shot: Shot) -> None:
    page = browser_page
    user = web.add_user("caseworker", kind="ngo")
    sign_in(page, user, "/forms")
    _look(page, shot, "forms-empty")
    page.click("text=New identification form")
    page.wait_for_url("**/drafts/*/consent")
    draft = page.url.rsplit("/", 2)[-2]
    data = {**STEP_DATA, "account": [("account.narrative", SCRIPT + IMAGE)]}
    for step in STEPS:
        assert page.url.endswith(f"/drafts/{draft}/{step}")
        fill_step(page, data[step])
        _look(page, shot, f"step-{step}")
        if step == "exploitation":  # one more place, through "Save and add another"
            page.click('button[name="action"][value="add"]')
            page.wait_for_load_state("load")
            fill_step(page, [("exploitation.locations.1.type", "Exploitation"),
                             ("exploitation.locations.1.country", "RU")])
        _continue(page)
    assert page.url.endswith(f"/drafts/{draft}/check")
    page.goto(f"/drafts/{draft}/person")  # left, and come back: what was typed is there
    assert page.input_value('[name="person.first_name"]') == "Ivan"
    assert page.input_value('[name="person.birthdate"]') == "1998-07-14"
    page.goto(f"/drafts/{draft}/check")
    body = page.inner_text("main")
    for shown in ("Ivan", "Forced criminality", "Gomel region", "Recruitment", "Exploitation", SCRIPT + IMAGE):
        assert shown in body, shown
    assert page.locator("img").count() == 0  # the canary stayed text
    _look(page, shot, "check")
    page.click('button[name="action"][value="submit"]')
    page.wait_for_url("**/forms/*")
    assert "/drafts/" not in page.url
    main = page.inner_text("main")
    assert "Ivan" in main and "Active" in main and SCRIPT + IMAGE in main
    _look(page, shot, "form")
    page.click("text=Record consent withdrawal")
    page.wait_for_load_state("load")
    assert "open referral of this form is cancelled" in page.inner_text("main")
    _look(page, shot, "consent-withdrawal")
    fill_step(page, [("withdrawal.withdrawn_at", "2026-12-01T09:30"), ("withdrawal.recorded_by", "caseworker")])
    page.click('button[name="action"][value="withdraw"]')
    page.wait_for_url("**/forms/*")
    assert "Consent withdrawn" in page.inner_text("main")
    page.goto("/forms")
    _look(page, shot, "forms")


def test_a_refused_step_shows_the_error_summary_whose_links_reach_the_fields(web: WebServer, page: Any,
                                                                             shot: Shot) -> None:
    sign_in(page, web.add_user("caseworker", kind="ngo"), "/forms/new")
    page.goto(page.url.replace("/consent", "/person"))
    fill_step(page, [("person.number_of_children", "two"), ("person.email", "not an address")])
    _continue(page)
    summary = page.locator("#error-summary")
    assert summary.is_visible() and page.evaluate("document.activeElement.id") == "error-summary"
    assert "Enter a whole number." in summary.inner_text()
    _look(page, shot, "refused-step")
    summary.locator('a[href="#person-number_of_children"]').click()
    assert page.evaluate("document.activeElement.name") == "person.number_of_children"
    assert page.input_value('[name="person.number_of_children"]') == "two"


def test_another_agency_sees_withheld_fields_named_and_the_authority_decides(web: WebServer, page: Any,
                                                                             page_nojs: Any, shot: Shot) -> None:
    author = web.add_user("caseworker", kind="ngo")
    http = Http(web.base)
    http.sign_in(author)
    form_id = fill_and_submit(http)
    iom, moi = web.add_user("caseworker", kind="international"), web.add_user("caseworker", kind="authority")
    _refer(web, author, form_id, iom["agency"], "assistance", ["airport_reception"])
    _refer(web, author, form_id, moi["agency"], "identification", [])
    sign_in(page, iom, f"/forms/{form_id}")
    withheld = page.inner_text(".withheld")
    assert "In their words" in withheld and "Perpetrators" in withheld
    assert "Recruiter" not in page.inner_text("main")
    _look(page, shot, "form-withheld")
    ministry = page_nojs  # the Ministry's caseworker, in a browser with JavaScript off
    sign_in(ministry, moi, f"/forms/{form_id}")
    ministry.select_option('[name="decision.trafficking_status"]', "ActualVictimOfTrafficking")
    ministry.fill('[name="decision.note"]', SCRIPT)
    _look(ministry, shot, "form-decision")
    ministry.click('button[name="action"][value="decide"]')
    ministry.wait_for_load_state("load")
    assert "Victim of trafficking" in ministry.inner_text("main")
    assert SCRIPT in ministry.inner_text("main")  # the note, as text
