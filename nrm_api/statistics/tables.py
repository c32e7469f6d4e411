"""The statistics' tables out of plain facts, pure: counted, then withheld by ``suppression``.

Every table of one population (the forms counted, the decisions, the referrals) is a partition
of that population's total, or a multiple choice (types and countries of exploitation, services)
whose cells add up to at least it; the ``totals`` table shows each total once, and every table is
withheld as though its total were known. Categories of a closed code list are all listed, zeros
withheld like any small count; countries, an open list, are named only where at least ``k`` fall
in them, the rest together as ``other``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..vocabulary import codes
from .suppression import median_shown, one_way, two_way

OTHER = "other"
#: A referral's outcome so far that means the assistance was given (or is being given).
GIVEN = frozenset({"accepted", "in-progress", "on-hold", "completed"})
PURPOSES = ("identification", "assistance")
PRIORITIES = ("emergency", "urgent", "normal")


@dataclass(frozen=True)
class FormFacts:
    """What the statistics read of one form: its public, coded fields only."""

    year: int
    sex: str
    age_band: str
    citizenship: str | None
    types_of_exploitation: frozenset[str]
    countries_of_exploitation: frozenset[str]
    detected_by: str
    agency_kind: str
    decision: str | None = None


@dataclass(frozen=True)
class ReferralFacts:
    """What the statistics read of one referral."""

    purpose: str
    status: str
    priority: str
    services: frozenset[str] = field(default_factory=frozenset)
    created_at: datetime | None = None
    accepted_at: datetime | None = None


def build(forms: Sequence[FormFacts], referrals: Sequence[ReferralFacts], k: int) -> list[dict[str, Any]]:
    """Every table of the answer, small counts withheld."""
    decided = [form.decision for form in forms if form.decision]
    matrix = [[sum(1 for r in referrals if r.purpose == purpose and r.status == status)
               for status in codes("referral_status")] for purpose in PURPOSES]
    outcomes = _two_way("referrals_by_purpose_and_status", "purpose", PURPOSES, "status",
                        codes("referral_status"), matrix, k)
    shown_referrals = next(row["count"] for row in outcomes["rows"] if row["purpose"] is None and row["status"] is None)
    totals = {"forms": len(forms), "identification_decisions": len(decided), "referrals": len(referrals)}
    totals_shown = one_way_primary(totals, k)
    totals_shown["referrals"] = shown_referrals
    years = [form.year for form in forms]
    year_codes = [str(y) for y in range(min(years), max(years) + 1)] if years else []
    return [
        _table("totals", "population", totals_shown),
        _one("forms_by_year", "year", year_codes, (str(form.year) for form in forms), k),
        _one("forms_by_sex", "sex", codes("gender"), (form.sex for form in forms), k),
        _one("forms_by_age_band", "age_band", codes("age_band"), (form.age_band for form in forms), k),
        _open("forms_by_citizenship", "citizenship", [form.citizenship or OTHER for form in forms], k),
        _one("forms_by_type_of_exploitation", "type_of_exploitation", codes("type_of_exploitation"),
             (code for form in forms for code in form.types_of_exploitation), k),
        _open("forms_by_country_of_exploitation", "country",
              [country for form in forms for country in form.countries_of_exploitation], k),
        _one("forms_by_detected_by", "detected_by", codes("detected_by"), (form.detected_by for form in forms), k),
        _one("forms_by_agency_kind", "agency_kind", codes("agency_kind"), (form.agency_kind for form in forms), k),
        _one("identification_decisions", "trafficking_status", codes("trafficking_status"), decided, k),
        outcomes,
        _one("assistance_given_by_service", "service", codes("service"),
             (s for r in referrals if r.purpose == "assistance" and r.status in GIVEN for s in r.services), k),
        _times(referrals, k),
    ]


def one_way_primary(counts: dict[str, int], k: int) -> dict[str, int | None]:
    """Counts of separate populations (no margin joins them): each below ``k`` withheld, no more needed."""
    return {key: None if count < k else count for key, count in counts.items()}


def _table(name: str, dimension: str, shown: dict[str, int | None]) -> dict[str, Any]:
    return {"name": name, "dimensions": [dimension],
            "rows": [{dimension: key, "count": count, "suppressed": count is None} for key, count in shown.items()]}


def _one(name: str, dimension: str, categories: Sequence[str], values: Iterable[str], k: int) -> dict[str, Any]:
    counted = Counter(values)
    return _table(name, dimension, one_way({code: counted.get(code, 0) for code in categories}, k))


def _open(name: str, dimension: str, values: Sequence[str], k: int) -> dict[str, Any]:
    """A table over an open list: the categories with at least ``k`` by name, in order, the rest as ``other``."""
    counted = Counter(values)
    named = sorted(code for code, count in counted.items() if count >= k and code != OTHER)
    pooled = sum(count for code, count in counted.items() if code not in named)
    return _table(name, dimension, one_way({**{code: counted[code] for code in named}, OTHER: pooled}, k))


def _two_way(name: str, row_name: str, row_codes: Sequence[str], column_name: str, column_codes: Sequence[str],
             matrix: list[list[int]], k: int) -> dict[str, Any]:
    """A two-way table with its margins: a margin's other dimension is ``None`` (all of them)."""
    shown = two_way(matrix, k)
    rows: list[dict[str, Any]] = []
    for i, row_code in enumerate([*row_codes, None]):
        counts = shown.cells[i] + [shown.rows[i]] if i < len(row_codes) else [*shown.columns, shown.total]
        for column_code, count in zip([*column_codes, None], counts, strict=True):
            rows.append({row_name: row_code, column_name: column_code, "count": count, "suppressed": count is None})
    return {"name": name, "dimensions": [row_name, column_name], "rows": rows}


def _times(referrals: Sequence[ReferralFacts], k: int) -> dict[str, Any]:
    """Median hours from sending to acceptance, by priority: a median over fewer than ``k`` withheld.

    No count goes with it: the referrals ever accepted, by priority, would add up to a sum of the
    outcome table's columns (all but the cancelled, when none was cancelled after acceptance), and
    that equation could open a withheld count there.
    """
    rows = []
    for priority in PRIORITIES:
        hours = [(r.accepted_at - r.created_at).total_seconds() / 3600 for r in referrals
                 if r.priority == priority and r.accepted_at and r.created_at]
        median = median_shown(hours, k)
        rows.append({"priority": priority, "median_hours": None if median is None else round(median, 1),
                     "suppressed": median is None})
    return {"name": "time_to_acceptance_by_priority", "dimensions": ["priority"], "rows": rows}
