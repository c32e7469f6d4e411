"""The directory as Open Referral HSDS 3.0: organizations, their services, service areas and eligibility.

HSDS 3.0's canonical form is JSON, dereferenced (``organization`` with its ``services`` embedded,
each with its ``service_areas`` and ``attributes``); the API answers that, wrapped in the HSDS API
Reference's ``Page``. ``nrm-api export hsds`` writes the spec's other conformant serialization, a
Tabular Data Package: the spec's own ``datapackage.json`` (``hsds/``, copied unchanged, CC BY-SA
4.0) and one CSV per resource it lists, objects linked by ``id``.

Built only from what the directory publishes to every signed-in principal (``service.entry``):
names, kind, regions, services with eligibility and places. A shelter's confidential address
(``Agency.address_sealed``) is never read here, so it cannot reach either output.

HSDS ids are UUIDs: each is a UUIDv5 of the directory's own key (``agency:ID``,
``service:ID:CODE``…), the same on every export; the agency's id is kept as an
``organization_identifier``. Eligibility goes where HSDS puts it: ``minimum_age`` and
``maximum_age`` from the CTDC age bands, ``eligibility_description``, and ``attributes``
(``link_type`` ``eligibility``) naming each age band and sex served, from taxonomies of this
network's vocabulary; places (``capacity``, ``vacancies``), which HSDS has no field for, are
attributes too.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

from ..vocabulary import code_lists
from .models import Agency, AgencyService

#: The namespace of every id this export makes (a UUIDv5 of the directory's URN).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:nrm-api:directory")
VERSION = "3.0.0"

#: Taxonomies of the network's vocabulary the attributes draw their terms from: (list, name, description).
TAXONOMIES = {
    "service": ("nrm-api service", "Assistance a referral may ask for (Law 350-З Art. 20, IOM Belarus)."),
    "age_band": ("CTDC age band", "Age bands of the Counter Trafficking Data Collaborative."),
    "gender": ("HTCDS gender", "Gender codes of the Human Trafficking Case Data Standard 2.0."),
    "places": ("nrm-api places", "How many places a service has in all and free now."),
}
PLACES = {"capacity": "Places in all", "vacancies": "Places free now"}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def _label(code_list: str, code: str) -> str:
    return code_lists()[code_list].get(code, {}).get("en", code)


def _taxonomy(key: str) -> dict[str, Any]:
    name, description = TAXONOMIES[key]
    return {"id": _id("taxonomy", key), "name": name, "description": description, "version": VERSION}


def _term(key: str, code: str) -> dict[str, Any]:
    name = PLACES[code] if key == "places" else _label(key, code)
    return {"id": _id("taxonomy_term", key, code), "code": code, "name": name, "description": name,
            "taxonomy": TAXONOMIES[key][0], "taxonomy_id": _id("taxonomy", key), "language": "en",
            "taxonomy_detail": _taxonomy(key)}


def _attribute(link_id: str, link_type: str, key: str, code: str, value: str | None = None) -> dict[str, Any]:
    term = _term(key, code)
    found = {"id": _id("attribute", link_id, key, code), "link_id": link_id, "taxonomy_term_id": term["id"],
             "link_type": link_type, "link_entity": "service", "taxonomy_term": term}
    if value is not None:
        found["value"] = value
    return found


def _ages(bands: list[str]) -> tuple[int | None, int | None]:
    """The youngest and oldest age the bands cover (``None``: no bound)."""
    if not bands:
        return None, None
    lows, highs = [], []
    for band in bands:
        low, _, high = band.rstrip("+").partition("--")
        lows.append(int(low))
        highs.append(int(high) if high else None)
    return min(lows), (None if None in highs else max(h for h in highs if h is not None))


def _service(agency: Agency, row: AgencyService, organization_id: str) -> dict[str, Any]:
    service_id = _id("service", agency.id, row.service)
    regions = list(row.regions or agency.regions)
    bands, sexes = list(row.age_bands), list(row.sexes)
    who = []
    who.append("ages " + ", ".join(_label("age_band", band) for band in bands) if bands else "any age")
    who.append(", ".join(_label("gender", sex) for sex in sexes) if sexes else "any sex")
    found: dict[str, Any] = {
        "id": service_id, "organization_id": organization_id, "name": _label("service", row.service),
        "alternate_name": code_lists()["service"].get(row.service, {}).get("ru", row.service),
        "description": f"{_label('service', row.service)} offered by {agency.name_en}.",
        "status": "active", "eligibility_description": "; ".join(who) + ".",
        "last_modified": row.updated_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{row.updated_at.microsecond // 1000:03d}Z",
        "service_areas": [{"id": _id("service_area", agency.id, row.service, region), "service_id": service_id,
                           "name": _label("oblast", region), "description": f"{_label('oblast', region)}, Belarus"}
                          for region in regions],
        "attributes": [_attribute(service_id, "service_type", "service", row.service)]
        + [_attribute(service_id, "eligibility", "age_band", band) for band in bands]
        + [_attribute(service_id, "eligibility", "gender", sex) for sex in sexes]
        + [_attribute(service_id, "capacity", "places", name, str(value))
           for name, value in (("capacity", row.capacity), ("vacancies", row.vacancies)) if value is not None],
    }
    low, high = _ages(bands)
    if low is not None:
        found["minimum_age"] = low
    if high is not None:
        found["maximum_age"] = high
    return found


def organization(agency: Agency, offered: list[AgencyService]) -> dict[str, Any]:
    """One agency as an HSDS ``organization`` with its services embedded (the dereferenced JSON form)."""
    organization_id = _id("agency", agency.id)
    regions = ", ".join(_label("oblast", region) for region in agency.regions) or "none listed"
    return {
        "id": organization_id, "name": agency.name_en, "alternate_name": agency.name_ru,
        "description": f"{_label('agency_kind', agency.kind)} of Belarus's National Referral Mechanism; "
                       f"works in: {regions}.",
        "organization_identifiers": [{"id": _id("organization_identifier", agency.id),
                                      "organization_id": organization_id, "identifier_scheme": "nrm-api",
                                      "identifier_type": "agency id", "identifier": agency.id}],
        "services": [_service(agency, row, organization_id) for row in offered],
    }


def page(organizations: list[dict[str, Any]]) -> dict[str, Any]:
    """The organizations as one HSDS API ``Page`` (all on one page: the directory is small)."""
    return {"total_items": len(organizations), "total_pages": 1, "page_number": 1, "size": len(organizations),
            "first_page": True, "last_page": True, "empty": not organizations, "contents": organizations}


@cache
def datapackage() -> dict[str, Any]:
    """The spec's ``datapackage.json`` (HSDS 3.0, unchanged)."""
    loaded: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("hsds/datapackage.json").read_text(encoding="utf-8"))
    return loaded


def tables(organizations: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The organizations flattened into the Tabular Data Package's resources, keyed by resource name."""
    found: dict[str, list[dict[str, Any]]] = {resource["name"]: [] for resource in datapackage()["resources"]}
    seen: set[str] = set()

    def add(name: str, item: dict[str, Any]) -> None:
        if item["id"] not in seen:
            seen.add(item["id"])
            found[name].append({key: value for key, value in item.items() if not isinstance(value, list | dict)})

    for org in organizations:
        add("organization", org)
        for identifier in org["organization_identifiers"]:
            add("organization_identifier", identifier)
        for service in org["services"]:
            add("service", service)
            for area in service["service_areas"]:
                add("service_area", area)
            for attribute in service["attributes"]:
                add("attribute", attribute)
                add("taxonomy_term", attribute["taxonomy_term"])
                add("taxonomy", attribute["taxonomy_term"]["taxonomy_detail"])
    return found


def csv_files(organizations: list[dict[str, Any]]) -> dict[str, bytes]:
    """``{path: CSV bytes}`` for every resource of the data package (header only where empty)."""
    rows = tables(organizations)
    files = {}
    for resource in datapackage()["resources"]:
        columns = [field["name"] for field in resource["schema"]["fields"]]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="raise", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows[resource["name"]])
        files[resource["path"]] = out.getvalue().encode("utf-8")
    return files
