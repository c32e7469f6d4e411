"""``/statistics``: the API's statistics (the same service call, audited the same way) as SVG bar charts and tables.

The bars are drawn on the server (no script); their widths are worked out here. Every withheld
cell, whether below k or withheld beside one, shows the one marker ``WITHHELD``, so the page never
tells which cells were the small ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask.wrappers import Response
from flask_babel import format_decimal, lazy_gettext

from ...permissions import Permission
from ...statistics import service
from ..blueprint import bp
from ..guard import current_actor, page
from ..replies import render
from .referrals import PRIORITY_LABELS, agency_name, helpers

#: The one mark of a withheld cell.
WITHHELD = "—"
#: The bars' area in the SVG's own units: labels on the left, bars, the figure after each bar.
LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH, ROW_HEIGHT = 220, 300, 60, 26

TITLES = {
    "totals": lazy_gettext("In all"),
    "forms_by_year": lazy_gettext("Forms by year"),
    "forms_by_sex": lazy_gettext("Forms by sex"),
    "forms_by_age_band": lazy_gettext("Forms by age band"),
    "forms_by_citizenship": lazy_gettext("Forms by citizenship"),
    "forms_by_type_of_exploitation": lazy_gettext("Forms by type of exploitation"),
    "forms_by_country_of_exploitation": lazy_gettext("Forms by country of exploitation"),
    "forms_by_detected_by": lazy_gettext("Forms by who detected the person"),
    "forms_by_agency_kind": lazy_gettext("Forms by kind of agency"),
    "identification_decisions": lazy_gettext("Identification decisions"),
    "referrals_by_purpose_and_status": lazy_gettext("Referrals by status (all purposes)"),
    "assistance_given_by_service": lazy_gettext("Assistance given, by service"),
    "time_to_acceptance_by_priority": lazy_gettext("Median time to acceptance, by priority"),
}
DIMENSIONS = {
    "population": lazy_gettext("What is counted"), "year": lazy_gettext("Year"), "sex": lazy_gettext("Sex"),
    "age_band": lazy_gettext("Age band"), "citizenship": lazy_gettext("Citizenship"),
    "type_of_exploitation": lazy_gettext("Type of exploitation"), "country": lazy_gettext("Country"),
    "detected_by": lazy_gettext("Detected by"), "agency_kind": lazy_gettext("Kind of agency"),
    "trafficking_status": lazy_gettext("Decision"), "status": lazy_gettext("Status"),
    "purpose": lazy_gettext("Purpose"), "service": lazy_gettext("Service"), "priority": lazy_gettext("Priority"),
}
POPULATIONS = {"forms": lazy_gettext("Forms"), "identification_decisions": lazy_gettext("Identification decisions"),
               "referrals": lazy_gettext("Referrals")}
PURPOSES = {"identification": lazy_gettext("Identification"), "assistance": lazy_gettext("Assistance")}
#: The vocabulary's code list of each coded dimension.
CODE_LISTS = {"sex": "gender", "age_band": "age_band", "type_of_exploitation": "type_of_exploitation",
              "detected_by": "detected_by", "agency_kind": "agency_kind", "trafficking_status": "trafficking_status",
              "service": "service", "status": "referral_status"}
OTHER = lazy_gettext("Other")
ALL = lazy_gettext("All")


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, in the SVG's units."""

    label: str
    value: str
    y: int
    width: int


@bp.route("/statistics")
@page(Permission.STATISTICS_READ)
def statistics() -> Response:
    """The network's (or the agency's) statistics, each table as a chart with the table beside it."""
    answer = service.statistics(current_actor())
    label = _labeller()
    sections = []
    for table in answer["tables"]:
        if table["name"] == "referrals_by_purpose_and_status":
            sections.append({"kind": "two_way", **_two_way(table, label)})
        elif table["name"] == "time_to_acceptance_by_priority":
            sections.append({"kind": "one_way", **_times(table)})
        else:
            sections.append({"kind": "one_way", **_one_way(table["name"], table, label)})
    scope = None if answer["scope"] == "network" else agency_name(str(answer["agency"]))
    return render("statistics/statistics.html", k=answer["k"], scope=scope, sections=sections, withheld=WITHHELD,
                  **helpers())


def _labeller() -> Any:
    code_label = helpers()["code_label"]
    lang = helpers()["lang"]
    territories = Locale.parse(lang).territories

    def label(dimension: str, code: str | None) -> str:
        if code is None:
            return str(ALL)
        if dimension == "population":
            return str(POPULATIONS.get(code, code))
        if dimension == "purpose":
            return str(PURPOSES.get(code, code))
        if dimension == "priority":
            return str(PRIORITY_LABELS.get(code, code))
        if dimension in ("citizenship", "country"):
            return str(OTHER) if code == "other" else str(territories.get(code, code))
        if dimension in CODE_LISTS:
            return str(code_label(CODE_LISTS[dimension], code))
        return code

    return label


def _shown(value: float | None) -> str:
    return WITHHELD if value is None else str(format_decimal(value))


def bars(rows: list[tuple[str, float | None]]) -> tuple[list[Bar], int]:
    """The bars of the rows with a value shown (a withheld one has none), widths in proportion; the SVG's height."""
    visible = [(label, value) for label, value in rows if value is not None]
    largest = max((value for _, value in visible), default=0)
    drawn = [Bar(label, _shown(value), i * ROW_HEIGHT, max(1, round(BAR_WIDTH * value / largest)) if largest else 0)
             for i, (label, value) in enumerate(visible)]
    return drawn, max(1, len(drawn)) * ROW_HEIGHT


def _chart(name: str, title: str, rows: list[tuple[str, float | None]]) -> dict[str, Any]:
    drawn, height = bars(rows)
    return {"id": name.replace("_", "-"), "title": title, "bars": drawn, "height": height,
            "label_width": LABEL_WIDTH, "bar_width": BAR_WIDTH, "width": LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
            "row_height": ROW_HEIGHT}


def _one_way(name: str, table: dict[str, Any], label: Any) -> dict[str, Any]:
    dimension = table["dimensions"][0]
    rows = [(label(dimension, row[dimension]), row["count"]) for row in table["rows"]]
    return {**_chart(name, str(TITLES[name]), rows), "dimension": str(DIMENSIONS[dimension]),
            "value_header": str(lazy_gettext("Count")),
            "rows": [(shown, _shown(count)) for shown, count in rows]}


def _two_way(table: dict[str, Any], label: Any) -> dict[str, Any]:
    """The outcome table as purposes by statuses with the totals; its chart is the statuses' totals row."""
    purposes = list(dict.fromkeys(row["purpose"] for row in table["rows"]))
    statuses = list(dict.fromkeys(row["status"] for row in table["rows"]))
    cell = {(row["purpose"], row["status"]): row["count"] for row in table["rows"]}
    margin = [(label("status", status), cell[(None, status)]) for status in statuses if status is not None]
    return {**_chart("referrals-by-status", str(TITLES["referrals_by_purpose_and_status"]), margin),
            "caption": str(lazy_gettext("Referrals by purpose and status")),
            "columns": [label("status", status) for status in statuses],
            "rows": [(label("purpose", purpose), [_shown(cell[(purpose, status)]) for status in statuses])
                     for purpose in purposes]}


def _times(table: dict[str, Any]) -> dict[str, Any]:
    rows = [(str(PRIORITY_LABELS[row["priority"]]), row["median_hours"]) for row in table["rows"]]
    return {**_chart("time-to-acceptance", str(TITLES["time_to_acceptance_by_priority"]), rows),
            "dimension": str(DIMENSIONS["priority"]), "value_header": str(lazy_gettext("Median, hours")),
            "rows": [(shown, _shown(hours)) for shown, hours in rows]}
