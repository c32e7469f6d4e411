"""Wire shape of the statistics: every dimension a table may have, declared by hand."""

from __future__ import annotations

import marshmallow as ma


def _dimension(description: str) -> ma.fields.String:
    return ma.fields.String(allow_none=True, metadata={"description": description})


class StatisticsRowSchema(ma.Schema):
    """One cell: its categories, and its count, or null where withheld."""

    population = _dimension("`forms`, `identification_decisions` or `referrals` (the `totals` table).")
    year = _dimension("Year of registration.")
    sex = _dimension("Sex or gender (the vocabulary's `gender`).")
    age_band = _dimension("CTDC age band.")
    citizenship = _dimension("ISO 3166 code; `other`: countries with fewer than k each, or none recorded.")
    type_of_exploitation = _dimension("Type of exploitation (a form may have several).")
    country = _dimension("Country of exploitation, ISO 3166; `other`: countries with fewer than k each.")
    detected_by = _dimension("Who detected the person.")
    agency_kind = _dimension("Kind of the agency that wrote the form.")
    trafficking_status = _dimension("The latest identification decision.")
    purpose = _dimension("The referral's purpose; null in a margin (all purposes).")
    status = _dimension("The referral's status now; null in a margin (all statuses).")
    service = _dimension("Assistance given: referrals for assistance accepted, in progress, on hold or completed.")
    priority = _dimension("The referral's priority.")
    count = ma.fields.Integer(allow_none=True, metadata={"description": "Null when withheld."})
    median_hours = ma.fields.Float(allow_none=True, metadata={
        "description": "Median hours from sending to acceptance (`time_to_acceptance_by_priority`); "
                       "null over fewer than k referrals."})
    suppressed = ma.fields.Boolean(required=True, metadata={
        "description": "Withheld: fewer than k, or hidden so that such a count cannot be worked out."})


class StatisticsTableSchema(ma.Schema):
    """One table of counts."""

    name = ma.fields.String(required=True)
    dimensions = ma.fields.List(ma.fields.String(), required=True)
    rows = ma.fields.List(ma.fields.Nested(StatisticsRowSchema), required=True)


class StatisticsReportSchema(ma.Schema):
    """Counts over the public part of the forms and the referrals, every small one withheld."""

    k = ma.fields.Integer(required=True, metadata={"description": "Every count below k is withheld."})
    generated_at = ma.fields.AwareDateTime(required=True)
    scope = ma.fields.String(required=True, validate=ma.validate.OneOf(("network", "agency")), metadata={
        "description": "`network` for the authority, international organisations and auditors; else `agency`."})
    agency = ma.fields.String(allow_none=True, metadata={"description": "The agency counted, for scope `agency`."})
    tables = ma.fields.List(ma.fields.Nested(StatisticsTableSchema), required=True)
