"""The form in HTCDS columns (IOM's Human Trafficking Case Data Standard), both ways, as CSV and JSON.

Pure: no database, no Flask. One column per field of the form (``COLUMNS``: the HTCDS name where the
standard has one, a name in its style and prefix where it has none; docs/htcds.md says which is
which and where the names come from). A nested object the form treats as one field (the places,
the perpetrators, a child's legal representative) is one column holding a JSON array or object
with HTCDS-style keys. Code values are the standard's, as the form already stores them.

A row holds only the columns whose field was present and disclosed to the exporter: an absent
column is an absent field (in CSV an empty cell; no field of the form is ever an empty string).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import marshmallow as ma

from ..crypto.canonical import loads_strict
from .document import SCHEMA_VERSION, FormDocumentSchema
from .rules import merge, sealed_paths

STANDARD = "HTCDS 2.0"
#: The version of this mapping: an import refuses a file of another.
MAPPING_VERSION = "1"

#: Columns about the record, not the person: who wrote it and when. Not imported (the importing
#: instance gives its own id and time; the importing agency becomes the author).
RECORD_COLUMNS = ("cas_CaseId", "cas_Organisation", "cas_CreatedDate", "cas_Version")

#: (HTCDS column, the form's field path).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("prs_FirstName", "person.first_name"),
    ("prs_MiddleName", "person.middle_name"),
    ("prs_SecondName", "person.second_name"),
    ("prs_FirstNameCyrillic", "person.first_name_cyrillic"),
    ("prs_MiddleNameCyrillic", "person.middle_name_cyrillic"),
    ("prs_SecondNameCyrillic", "person.second_name_cyrillic"),
    ("prs_Birthdate", "person.birthdate"),
    ("prs_Gender", "person.gender"),
    ("prs_Nationality", "person.citizenship"),
    ("prs_IdentityNumber", "person.identity_number"),
    ("prs_IdentityDocumentType", "person.identity_document_type"),
    ("prs_PrimaryLanguage", "person.primary_language"),
    ("prs_SecondaryLanguage", "person.secondary_language"),
    ("prs_MailingAddress", "person.mailing_address"),
    ("prs_MobilePhone", "person.mobile_phone"),
    ("prs_Email", "person.email"),
    ("prs_MaritalStatus", "person.marital_status"),
    ("prs_NumberOfChildren", "person.number_of_children"),
    ("prs_HighestLevelOfEducation", "person.education_level"),
    ("vic_IsMinor", "child.is_minor"),
    ("vic_AgeDisputed", "child.age_disputed"),
    ("vic_SeparatedOrUnaccompanied", "child.separated_or_unaccompanied"),
    ("vic_LegalRepresentative", "child.legal_representative"),
    ("vic_TypeOfExploitation", "exploitation.types_of_exploitation"),
    ("vic_TypeOfSexExploitation", "exploitation.types_of_sexual_exploitation"),
    ("vic_LabourIndustry", "exploitation.forced_labour_industries"),
    ("vic_MethodOfRecruitment", "exploitation.recruitment_methods"),
    ("vic_RecruitmentWebsitesAndApps", "exploitation.websites_or_apps"),
    ("vic_MethodsOfControl", "exploitation.control_methods"),
    ("vic_RelationshipToTrafficker", "exploitation.relationship_to_trafficker"),
    ("vic_AgeWhenTrafficked", "exploitation.age_when_trafficked"),
    ("hte_Events", "exploitation.locations"),
    ("vic_Narrative", "account.narrative"),
    ("vic_Health", "account.health"),
    ("vic_Needs", "account.needs"),
    ("per_Perpetrators", "perpetrators"),
    ("con_Identification", "consent.purposes.identification"),
    ("con_Assistance", "consent.purposes.assistance"),
    ("con_DataSharing", "consent.purposes.data_sharing"),
    ("con_Statistics", "consent.purposes.statistics"),
    ("con_Recipients", "consent.recipients"),
    ("con_ObtainedAt", "consent.obtained_at"),
    ("con_ObtainedBy", "consent.obtained_by"),
    ("con_Method", "consent.method"),
    ("con_Language", "consent.language"),
    ("con_ToldPurpose", "consent.checklist.told_purpose"),
    ("con_ToldUses", "consent.checklist.told_uses"),
    ("con_ToldRightToAccess", "consent.checklist.told_right_to_access"),
    ("con_ToldRetention", "consent.checklist.told_retention"),
    ("con_ToldWithdrawal", "consent.checklist.told_withdrawal"),
    ("scr_DetectedBy", "screening.detected_by"),
    ("scr_Method", "screening.method"),
    ("scr_DetectedOn", "screening.detected_on"),
    ("scr_Place", "screening.place"),
    ("scr_Language", "screening.language"),
    ("scr_InterpreterUsed", "screening.interpreter_used"),
    ("scr_InterpreterLanguage", "screening.interpreter_language"),
    ("sta_AgeBand", "statistics.age_band"),
    ("sta_Sex", "statistics.sex"),
    ("sta_Citizenship", "statistics.citizenship"),
    ("sta_Year", "statistics.year"),
)

#: The keys inside the one-column objects: the form's key → the HTCDS-style key.
INNER_KEYS: dict[str, dict[str, str]] = {
    "exploitation.locations": {"type": "hte_Type", "country": "hte_Country", "oblast": "hte_State",
                               "start_date": "hte_StartDate", "end_date": "hte_EndDate"},
    "perpetrators": {"role": "per_RoleInProcess", "kind": "per_Kind", "nationality": "per_Nationality",
                     "gender": "per_Gender", "approximate_age": "per_ApproximateAge",
                     "relationship": "per_RelationshipToVictim", "description": "per_RoleDetails",
                     "criminal_case_reference": "per_CriminalCaseReference"},
    "child.legal_representative": {"name": "lgr_Name", "relation": "lgr_Relation", "contact": "lgr_Contact",
                                   "informed": "lgr_Informed"},
}

PATH_OF = dict(COLUMNS)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
ALL_COLUMNS = (*RECORD_COLUMNS, *COLUMN_NAMES)


class HtcdsError(ValueError):
    """A file or row that is not an HTCDS export of this mapping: the message names where, never a value."""


#: What a column name looks like: one named in an error only if it does (a CSV without its header
#: row has values where the names should be, and a message never repeats a value).
_NAME_LIKE = re.compile(r"[a-z]{3}_[A-Za-z]{1,60}")


def _unknown(names: Iterable[str], order: list[str]) -> str:
    """Unknown columns as their names when they look like one, else by position (1-based): never a value."""
    return ", ".join(name if _NAME_LIKE.fullmatch(name) else f"#{order.index(name) + 1}" for name in names)


def sensitivity(column: str) -> str:
    """The sensitivity class of a column's field (``public`` for what is stored in clear)."""
    path = PATH_OF[column]
    sealed = sealed_paths()
    return next((sealed[p] for p in _prefixes(path) if p in sealed), "public")


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


@cache
def _fields() -> dict[str, ma.fields.Field[Any]]:
    """The schema's field at each column's path."""
    found: dict[str, ma.fields.Field[Any]] = {}
    for _, path in COLUMNS:
        schema: ma.Schema = FormDocumentSchema()
        field: ma.fields.Field[Any] | None = None
        for part in path.split("."):
            field = schema.fields[part]
            if isinstance(field, ma.fields.Nested) and isinstance(field.schema, ma.Schema):
                schema = field.schema
        if field is not None:
            found[path] = field
    return found


def _get(document: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    holder: Any = document
    for part in path.split("."):
        if not isinstance(holder, Mapping) or part not in holder:
            return False, None
        holder = holder[part]
    return True, holder


def _renamed(value: Any, keys: Mapping[str, str]) -> Any:
    if isinstance(value, list):
        return [_renamed(item, keys) for item in value]
    if isinstance(value, Mapping):
        return {keys.get(key, key): item for key, item in value.items()}
    return value


def row(document: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """One row: ``record``'s columns (``RECORD_COLUMNS``) and every field present in ``document``."""
    out: dict[str, Any] = {name: record[name] for name in RECORD_COLUMNS if record.get(name) is not None}
    for name, path in COLUMNS:
        present, value = _get(document, path)
        if present and value is not None:
            out[name] = _renamed(value, INNER_KEYS[path]) if path in INNER_KEYS else value
    return out


def document(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The form document a row holds (record columns left out); ``HtcdsError`` names an unknown column."""
    unknown = sorted(set(values) - set(ALL_COLUMNS))
    if unknown:
        raise HtcdsError(f"{where}: unknown column(s) {_unknown(unknown, list(values))}")
    fields: dict[str, Any] = {}
    for name, path in COLUMNS:
        if name in values and values[name] is not None:
            value = values[name]
            if path in INNER_KEYS:
                back = {htcds: own for own, htcds in INNER_KEYS[path].items()}
                value = _renamed(value, back)
            fields[path] = value
    return merge({"schema_version": SCHEMA_VERSION}, fields)


# --- the two formats ---------------------------------------------------------------------------

def to_json(rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> bytes:
    """The rows as one JSON document, with what they are."""
    body = {"standard": STANDARD, "mapping": MAPPING_VERSION, **meta, "columns": list(ALL_COLUMNS), "rows": rows}
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """The rows as CSV (RFC 4180, UTF-8): every column in the header, an absent field an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ALL_COLUMNS)
    for values in rows:
        writer.writerow([_cell(values[name]) if name in values else "" for name in ALL_COLUMNS])
    return out.getvalue().encode("utf-8")


def _parsed(name: str, text: str, where: str) -> Any:
    """A CSV cell back to the JSON value the form holds, by the field's type."""
    if name in RECORD_COLUMNS:
        return text
    field = _fields()[PATH_OF[name]]
    if isinstance(field, ma.fields.Boolean):
        if text not in ("true", "false"):
            raise HtcdsError(f"{where}, column {name}: expected true or false")
        return text == "true"
    if isinstance(field, ma.fields.Integer):
        try:
            return int(text)
        except ValueError:
            raise HtcdsError(f"{where}, column {name}: expected a whole number") from None
    if isinstance(field, ma.fields.List | ma.fields.Nested):
        try:
            return loads_strict(text.encode("utf-8"))
        except ValueError:
            raise HtcdsError(f"{where}, column {name}: expected a JSON value") from None
    return text


def rows_of(data: bytes, content_type: str) -> list[dict[str, Any]]:
    """The rows of an export's plaintext (JSON or CSV, as its JWE's ``cty`` says)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HtcdsError("the content is not UTF-8") from None
    if content_type == "text/csv":
        return _csv_rows(text)
    if content_type != "application/json":
        raise HtcdsError(f"unknown content type {content_type!r}: expected application/json or text/csv")
    try:
        body = loads_strict(data)
    except ValueError:
        raise HtcdsError("the content is not JSON") from None
    if not isinstance(body, dict) or body.get("mapping") != MAPPING_VERSION or not isinstance(body.get("rows"), list):
        raise HtcdsError(f"not an HTCDS export of mapping version {MAPPING_VERSION} (no 'rows' list)")
    rows: list[dict[str, Any]] = body["rows"]
    for number, values in enumerate(rows, start=1):
        if not isinstance(values, dict):
            raise HtcdsError(f"row {number}: not a JSON object")
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HtcdsError("the CSV is empty: no header") from None
    except csv.Error:
        raise HtcdsError("the CSV header does not parse") from None
    unknown = sorted(set(header) - set(ALL_COLUMNS))
    if unknown or len(set(header)) != len(header):
        raise HtcdsError(f"the CSV header has unknown or repeated column(s) {_unknown(unknown, header)}".rstrip())
    rows: list[dict[str, Any]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) != len(header):
                raise HtcdsError(f"row {number}: {len(cells)} cells for {len(header)} columns")
            rows.append({name: _parsed(name, cell, f"row {number}") for name, cell in zip(header, cells, strict=True)
                         if cell != ""})
    except csv.Error:
        raise HtcdsError(f"row {len(rows) + 1}: the CSV does not parse") from None
    return rows


def covered(paths: Iterable[str]) -> list[str]:
    """The paths of ``paths`` that no column carries (a test keeps this empty for the whole schema)."""
    carried = set(PATH_OF.values())
    return sorted(path for path in paths if not any(prefix in carried for prefix in _prefixes(path)))
