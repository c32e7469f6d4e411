"""/statistics: the API's statistics drawn (SVG bars and tables), for whom it is, and nothing of a person on it.

The served instance counts with NRM_STATISTICS_K=5, so that a few forms make cells visible. The
NGO's system submits 12 forms of women, 6 of men (aged 18-20, sexually exploited) and a child's form
full of canaries, and refers 10 of the women's to the Ministry, which accepts 6; another NGO submits 7.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from nrm_api.client import NrmClient
from nrm_api.client.sdk import urllib_transport
from tests.conftest import ROOT_DIR, _backends, create_client
from tests.forms.helpers import CANARIES, adult, canary_document
from tests.web.referral_network import Network, network
from tests.web.support import Http, WebServer, serve_web, sign_in

K = 5
PLACE_CANARY = "Zxqcanaryplace"
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
#: The tables of the answer, each a section with a chart and a table.
SECTIONS = 13


@pytest.fixture(scope="module", params=_backends())
def web(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        catalogs: None) -> Iterator[WebServer]:
    """A served instance counting with k = 5."""
    with serve_web(str(request.param), tmp_path_factory.mktemp(f"stats-{request.param}"),
                   env={"NRM_STATISTICS_K": str(K)}) as server:
        yield server


@pytest.fixture(scope="module")
def seeded(web: WebServer) -> Network:
    """The network, its NGO's 19 forms (one a child's full of canaries) and another NGO's 7."""
    net = network(web)
    women = [net.form() for _ in range(12)]
    for _ in range(6):
        document = adult()
        document["statistics"].update(sex="Masculine", age_band="18--20")
        document["exploitation"]["types_of_exploitation"] = ["SexualExploitation"]
        net.system.submit_form(document)
    canary = canary_document()
    canary["screening"]["place"] = PLACE_CANARY
    net.system.submit_form(canary)
    with web.with_app():
        client_id, private = create_client(net.stranger)
        moi_id, moi_private = create_client(net.moi)
    stranger = NrmClient(web.base, client_id, private, urllib_transport)
    ministry = NrmClient(web.base, moi_id, moi_private, urllib_transport)
    for i, form_id in enumerate(women[:10]):
        referral = net.referral(form_id, net.moi)
        if i < 6:
            ministry.set_status(referral, "accepted")
    for _ in range(7):
        stranger.submit_form(adult())
    return net


def _totals(text: str) -> str:
    table = text.split('id="table-totals"', 1)[1].split("</table>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", table))


def _no_person_in(text: str) -> None:
    for canary in [*CANARIES.values(), PLACE_CANARY]:
        assert canary not in text


def test_the_ministry_sees_the_network_as_charts_and_tables(seeded: Network, page: Any, axe: Any, shot: Any) -> None:
    sign_in(page, seeded.moi_caseworker, "/statistics")
    assert page.url.endswith("/statistics")
    assert page.locator('nav a[href="/statistics"]').count() == 1
    assert page.locator("section.statistic").count() == SECTIONS
    charts = page.locator('svg.chart[role="img"]')
    assert charts.count() == SECTIONS
    for i in range(SECTIONS):  # each chart is named by its own <title>
        chart = charts.nth(i)
        title_id = chart.get_attribute("aria-labelledby")
        assert chart.locator(f'title[id="{title_id}"]').count() == 1
    assert page.locator("table.statistic-table caption").count() == SECTIONS
    assert page.locator('table.statistic-table th[scope="row"]').count() > SECTIONS
    text = page.content()
    assert "Forms 26" in _totals(text) and "Referrals 10" in _totals(text)
    # 20 women's forms (12 + the child's + the other NGO's 7) shown; the 6 men's withheld beside the zeros
    sexes = page.locator("#table-forms-by-sex tbody tr")
    shown = {sexes.nth(i).locator("th").inner_text(): sexes.nth(i).locator("td").inner_text()
             for i in range(sexes.count())}
    assert shown["Feminine"] == "20" and shown["Masculine"] == "—" and "—" in shown.values()
    assert page.locator("#statistic-forms-by-sex rect.chart-bar").count() == sum(v != "—" for v in shown.values())
    # one mark for every withheld cell, whatever withheld it; the legend gives k
    assert f"below {K} are not shown" in page.locator("#statistics-legend").inner_text()
    assert f"&lt;{K}" not in text and f"<{K}" not in page.locator("main").inner_text()
    _no_person_in(text)
    axe(page)
    path = shot(page, "network")
    if os.environ.get("NRM_README_SCREENSHOTS"):  # the README's picture, retaken on purpose only
        shutil.copyfile(path, ROOT_DIR / "docs" / "screenshots" / "statistics.png")
    events = seeded.web.events(action="statistics:read", agency=seeded.moi)
    assert [(e["resource"], e["outcome"]) for e in events] == [("statistics:network", "allowed")]
    assert seeded.moi_caseworker["username"] in str(events[0]["actor"])


def test_an_ngo_sees_only_its_own_agency_and_it_works_without_javascript(seeded: Network, page_nojs: Any) -> None:
    sign_in(page_nojs, seeded.ngo_caseworker, "/statistics")
    assert page_nojs.locator("section.statistic").count() == SECTIONS
    text = page_nojs.content()
    assert "Forms 19" in _totals(text)
    assert "your agency" in page_nojs.locator("main").inner_text()
    _no_person_in(text)
    events = seeded.web.events(action="statistics:read", agency=seeded.ngo)
    assert [e["resource"] for e in events] == ["statistics:agency"]


def test_the_other_ngo_sees_its_seven_forms_withheld_at_no_more_than_k(seeded: Network) -> None:
    http = Http(seeded.web.base)
    http.sign_in(seeded.stranger_caseworker)
    answer = http.get("/statistics")
    assert answer.status == 200
    assert "Forms 7" in _totals(answer.text)
    sexes = answer.text.split('id="table-forms-by-sex"', 1)[1].split("</table>", 1)[0]
    assert ">7<" not in sexes  # all 7 are women; the zeros beside them would give it away


def test_a_role_without_statistics_read_is_refused(seeded: Network) -> None:
    admin = seeded.web.add_user("network_admin", agency=seeded.moi)
    http = Http(seeded.web.base)
    http.sign_in(admin)
    assert http.get("/statistics").status == 403
    assert 'href="/statistics"' not in http.get("/directory").text


@pytest.mark.parametrize("lang", ["ru", "be"])
def test_the_charts_and_tables_are_in_the_readers_language(seeded: Network, lang: str) -> None:
    http = Http(seeded.web.base, accept_language=lang)
    http.sign_in(seeded.web.add_user("caseworker", agency=seeded.moi))
    answer = http.get(f"/statistics?lang={lang}")
    assert answer.status == 200 and f'lang="{lang}"' in answer.text
    sections = answer.text.split("<h1", 1)[1].split("</main>", 1)[0]
    words = set(LATIN_WORD.findall(re.sub(r"<[^>]+>", " ", sections)))
    assert words == set(), words


def test_the_bars_are_as_long_as_their_counts_and_a_withheld_count_has_none(web: WebServer) -> None:
    from nrm_api.web.pages.statistics import BAR_WIDTH, ROW_HEIGHT, bars

    with web.app.test_request_context("/statistics"):
        drawn, height = bars([("a", 20), ("b", None), ("c", 5), ("d", None)])
        expected = [("a", BAR_WIDTH, 0), ("c", BAR_WIDTH // 4, ROW_HEIGHT)]
        assert [(bar.label, bar.width, bar.y) for bar in drawn] == expected
        assert height == 2 * ROW_HEIGHT
        assert bars([("a", None)]) == ([], ROW_HEIGHT)
