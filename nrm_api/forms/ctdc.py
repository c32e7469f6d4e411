"""A CTDC-style anonymised dataset: HTCDS public columns, generalised, then k-anonymised by suppression.

Pure: no database. The quasi-identifiers are gender, age band, citizenship, year of registration
and region. They are first generalised — the CTDC age bands into four broad ones, a gender other
than ``Feminine`` or ``Masculine`` into ``Other``, and a citizenship, region or country of
exploitation seen fewer than k times in the whole dataset into ``Other`` — and then every row whose
combination of quasi-identifiers occurs fewer than k times has all of them suppressed (``None``).
If the suppressed rows are themselves fewer than k, they are dropped: every combination present in
the output, the suppressed one included, occurs at least k times.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

K = 11
QUASI_IDENTIFIERS = ("gender", "ageBroad", "citizenship", "yearOfRegistration", "region")
#: The non-identifying attributes each row keeps (generalised where rare values could single someone out).
ATTRIBUTES = ("vic_TypeOfExploitation", "vic_TypeOfSexExploitation", "vic_LabourIndustry",
              "vic_MethodOfRecruitment", "vic_MethodsOfControl", "vic_RelationshipToTrafficker",
              "countryOfExploitation", "scr_DetectedBy")
COLUMNS = (*QUASI_IDENTIFIERS, *ATTRIBUTES)
OTHER = "Other"
BROAD_AGE = {"0--8": "0--17", "9--17": "0--17", "18--20": "18--29", "21--23": "18--29", "24--26": "18--29",
             "27--29": "18--29", "30--38": "30--47", "39--47": "30--47", "48+": "48+"}
KEPT_GENDERS = ("Feminine", "Masculine")


@dataclass
class Dataset:
    """The anonymised rows and what anonymising them did."""

    rows: list[dict[str, Any]]
    k: int
    #: The smallest class of quasi-identifiers in the output (None when the output is empty).
    k_reached: int | None = None
    #: Quasi-identifier values set to None.
    cells_suppressed: int = 0
    #: Rows left out: suppressed rows too few to form a class of k.
    rows_dropped: int = 0
    generalised: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """What was done, for the metadata record and the command's message."""
        return {"k": self.k, "k_reached": self.k_reached, "cells_suppressed": self.cells_suppressed,
                "rows_dropped": self.rows_dropped, "rows": len(self.rows),
                "quasi_identifiers": list(QUASI_IDENTIFIERS), "generalised": self.generalised}


def record(public: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """One case's public columns (from its public part and summary), before generalising."""
    exploitation = public.get("exploitation") or {}
    locations = exploitation.get("locations") or []
    oblasts = [place.get("oblast") for place in locations if place.get("country") == "BY" and place.get("oblast")]
    exploited = sorted({place["country"] for place in locations if place.get("type") == "Exploitation"})
    return {
        "gender": summary.get("sex"), "ageBroad": summary.get("age_band"), "citizenship": summary.get("citizenship"),
        "yearOfRegistration": summary.get("year"), "region": oblasts[0] if oblasts else None,
        "vic_TypeOfExploitation": sorted(exploitation.get("types_of_exploitation") or []),
        "vic_TypeOfSexExploitation": sorted(exploitation.get("types_of_sexual_exploitation") or []),
        "vic_LabourIndustry": sorted(exploitation.get("forced_labour_industries") or []),
        "vic_MethodOfRecruitment": sorted(exploitation.get("recruitment_methods") or []),
        "vic_MethodsOfControl": sorted(exploitation.get("control_methods") or []),
        "vic_RelationshipToTrafficker": exploitation.get("relationship_to_trafficker"),
        "countryOfExploitation": exploited,
        "scr_DetectedBy": (public.get("screening") or {}).get("detected_by"),
    }


def _common(values: Iterable[Any], k: int) -> set[Any]:
    counts = Counter(values)
    return {value for value, count in counts.items() if count >= k}


def anonymise(records: list[dict[str, Any]], k: int = K) -> Dataset:
    """Generalise, then suppress every class of quasi-identifiers smaller than ``k``."""
    rows = [dict(row) for row in records]
    for row in rows:
        row["ageBroad"] = BROAD_AGE.get(row["ageBroad"], row["ageBroad"])
        if row["gender"] is not None and row["gender"] not in KEPT_GENDERS:
            row["gender"] = OTHER
    for name in ("citizenship", "region"):
        common = _common((row[name] for row in rows), k)
        for row in rows:
            if row[name] is not None and row[name] not in common:
                row[name] = OTHER
    common_countries = _common((country for row in rows for country in row["countryOfExploitation"]), k)
    for row in rows:
        row["countryOfExploitation"] = sorted({country if country in common_countries else OTHER
                                               for country in row["countryOfExploitation"]})
    dataset = Dataset([], k, generalised={
        "ageBroad": "CTDC age bands into 0--17, 18--29, 30--47, 48+",
        "gender": f"other than {' or '.join(KEPT_GENDERS)}: {OTHER}",
        "citizenship": f"seen fewer than {k} times: {OTHER}", "region": f"seen fewer than {k} times: {OTHER}",
        "countryOfExploitation": f"seen fewer than {k} times: {OTHER}"})
    classes = Counter(_key(row) for row in rows)
    kept, suppressed = [], []
    for row in rows:
        if classes[_key(row)] >= k:
            kept.append(row)
        else:
            dataset.cells_suppressed += sum(row[name] is not None for name in QUASI_IDENTIFIERS)
            suppressed.append({**row, **dict.fromkeys(QUASI_IDENTIFIERS)})
    if suppressed and sum(_key(row) == _key(suppressed[0]) for row in kept) + len(suppressed) < k:
        dataset.rows_dropped = len(suppressed)
        suppressed = []
    dataset.rows = kept + suppressed
    final = Counter(_key(row) for row in dataset.rows)
    dataset.k_reached = min(final.values()) if final else None
    return dataset


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in QUASI_IDENTIFIERS)


def to_json(dataset: Dataset) -> bytes:
    """The dataset with its metadata record."""
    body = {"dataset": "CTDC-style anonymised HTCDS public columns", "metadata": dataset.report(),
            "columns": list(COLUMNS), "rows": dataset.rows}
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def to_csv(dataset: Dataset) -> bytes:
    """The rows as CSV: a list as its values joined with ``;``, a suppressed or absent value an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in dataset.rows:
        writer.writerow([";".join(map(str, row[name])) if isinstance(row[name], list)
                         else "" if row[name] is None else str(row[name]) for name in COLUMNS])
    return out.getvalue().encode("utf-8")
