"""The referral pages in Debian's chromium, with JavaScript on and off: refer, accept, put on hold with a reason.

axe-core checks every page; a screenshot of each goes under the run's output folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.web.referral_network import network
from tests.web.support import WebServer, sign_in

#: In the browser on SQLite alone: the same pages over HTTP run on both backends, and the Belarus flow
#: (tests/web/test_belarus_flow.py) drives the browser on PostgreSQL too.
pytestmark = pytest.mark.parametrize("web", ["sqlite"], indirect=True, scope="module")

SCRIPT = "<script>alert('nrm')</script>"


def sign_out(page: Any) -> None:
    page.click("form.sign-out button")
    page.wait_for_url("**/login**")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_refer_and_answer_through_the_pages(javascript: bool, request: pytest.FixtureRequest, web: WebServer,
                                            axe: Callable[[Any], list[dict[str, Any]]],
                                            shot: Callable[[Any, str], Path]) -> None:
    page = request.getfixturevalue("page" if javascript else "page_nojs")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    net = network(web)
    form_id = net.form()
    sign_in(page, net.ngo_caseworker, f"/forms/{form_id}/refer")
    axe(page)
    shot(page, "refer-choose")
    page.check("#purpose")  # identification, the first purpose
    page.click("text=Find recipients")
    page.wait_for_selector("input[name=to_agency]")
    assert page.locator(f"input[name=to_agency][value='{net.moi}']").count() == 1
    assert page.locator(f"input[name=to_agency][value='{net.shelter}']").count() == 0  # only an authority identifies
    assert page.locator(".consent-no").count() == 0
    axe(page)
    shot(page, "refer-recipients")
    page.check(f"input[name=to_agency][value='{net.moi}']")
    page.check("input[name=priority][value=urgent]")
    page.fill("#note", SCRIPT + " Arrives by train.")
    page.click("text=Send the referral")
    page.wait_for_url("**/referrals/*")
    referral_id = page.url.rsplit("/", 1)[-1]
    assert page.locator(".note").first.inner_text() == SCRIPT + " Arrives by train."
    axe(page)
    shot(page, "referral-sent")
    page.goto("/sent")
    assert page.locator(f"a[href='/referrals/{referral_id}']").count() == 1
    axe(page)
    shot(page, "sent")
    page.goto("/directory?service=accommodation")
    assert page.locator("table.directory tbody tr").count() >= 1
    axe(page)
    shot(page, "directory")
    sign_out(page)
    sign_in(page, net.moi_caseworker)
    page.goto("/inbox")
    axe(page)
    shot(page, "inbox")
    page.click(f"a[href='/referrals/{referral_id}']")
    page.wait_for_url(f"**/referrals/{referral_id}")
    page.click("button[name=status][value=accepted]")
    page.wait_for_selector("button[name=status][value=in-progress]")
    page.click("button[name=status][value=in-progress]")
    page.wait_for_selector("button[name=status][value=on-hold]")
    page.click("button[name=status][value=on-hold]")  # no reason: refused, with the error summary
    page.wait_for_selector("#error-summary")
    assert page.locator("#error-summary a[href='#reason']").count() == 1
    axe(page)
    shot(page, "referral-reason-missing")
    page.fill("#reason", "Waiting for an interpreter")
    page.click("button[name=status][value=on-hold]")
    page.wait_for_selector("text=Waiting for an interpreter")
    assert page.locator(".history-event").count() == 4 and page.locator(".check").count() == 4
    axe(page)
    shot(page, "referral-on-hold")
    assert dialogs == []  # the canary in the note never ran
