"""The directory as Open Referral HSDS 3.0: valid against the spec's own schemas, never a confidential address."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from nrm_api.agencies import directory
from nrm_api.audit.actor import Actor
from nrm_api.cli import main
from tests.conftest import audit_events, bearer, create_agency, create_user, login_token

SPEC = Path(__file__).resolve().parents[1] / "vectors" / "hsds"
CANARY = "Zxqhiddenshelter street 17"


def _schemas() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (SPEC / "schema").glob("*.json")}


def _validator(name: str) -> Draft202012Validator:
    # the spec's schemas refer to one another by file name ("attribute.json")
    registry: Registry[Any] = Registry().with_resources(
        (f"{stem}.json", Resource.opaque(schema)) for stem, schema in _schemas().items())
    return Draft202012Validator(_schemas()[name], registry=registry, format_checker=FormatChecker())


def _check(name: str, item: dict[str, Any]) -> None:
    """Valid against the HSDS schema, and nothing the schema does not define (the spec allows extras; we add none)."""
    _validator(name).validate(item)
    properties = _schemas()[name]["properties"]
    assert set(item) <= set(properties), set(item) - set(properties)
    for key, value in item.items():
        if properties[key].get("format") == "date-time":  # jsonschema checks it only with rfc3339-validator
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
        ref = properties[key].get("items", properties[key]).get("$ref")
        if ref and ref != f"{name}.json":
            for nested in value if isinstance(value, list) else [value]:
                _check(ref.removesuffix(".json"), nested)


def _directory() -> tuple[str, str]:
    shelter = create_agency(regions=("Gomel", "Minsk"))
    other = create_agency(kind="international")
    admin = Actor("user:hsds-admin", shelter, "agency_admin")
    directory.set_services(admin, shelter, [
        {"service": "accommodation", "regions": ["Gomel"], "age_bands": ["18--20", "21--23"], "sexes": ["Feminine"],
         "capacity": 12, "vacancies": 3},
        {"service": "legal_aid", "regions": [], "age_bands": [], "sexes": []}])
    directory.set_services(Actor("user:hsds-other", other, "agency_admin"), other, [
        {"service": "psychological_counselling", "regions": ["Minsk"], "age_bands": ["0--8", "9--17"],
         "sexes": [], "capacity": None, "vacancies": None}])
    directory.set_address(admin, shelter, CANARY)
    return shelter, other


def test_the_api_answers_a_valid_hsds_page_without_the_confidential_address(client: FlaskClient) -> None:
    shelter, other = _directory()
    token = login_token(client, create_user("caseworker", other))
    answer = client.get("/api/v1/agencies/hsds", headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert CANARY.encode() not in answer.data and b"Zxqhidden" not in answer.data
    body = answer.get_json()
    assert body["total_items"] == body["size"] == len(body["contents"]) and body["first_page"] and body["last_page"]
    by_identifier = {org["organization_identifiers"][0]["identifier"]: org for org in body["contents"]}
    for org in body["contents"]:
        services = org["services"]
        _check("organization", {key: value for key, value in org.items() if key != "services"})
        for item in services:
            _check("service", item)
            assert item["organization_id"] == org["id"]
    home = by_identifier[shelter]
    accommodation = next(item for item in home["services"] if item["name"] == "Accommodation")
    assert accommodation["minimum_age"] == 18 and accommodation["maximum_age"] == 23
    assert [area["name"] for area in accommodation["service_areas"]] == ["Gomel region"]
    values = {(a["taxonomy_term"]["code"], a.get("value")) for a in accommodation["attributes"]}
    assert {("Feminine", None), ("18--20", None), ("capacity", "12"), ("vacancies", "3")} <= values
    legal = next(item for item in home["services"] if item["name"] == "Legal aid")
    assert "minimum_age" not in legal and len(legal["service_areas"]) == 2  # all the agency's regions
    children = by_identifier[other]["services"][0]
    assert (children["minimum_age"], children["maximum_age"]) == (0, 17)
    # the same ids on every answer
    assert client.get("/api/v1/agencies/hsds", headers=bearer(token)).get_json() == body
    assert audit_events(action="agency:read", reason="hsds")
    assert client.get("/api/v1/agencies/hsds").status_code == 401


def test_the_export_is_the_specs_tabular_data_package_without_the_confidential_address(
        app: Flask, tmp_path: Path) -> None:
    shelter, _ = _directory()
    out = tmp_path / "hsds"
    result = app.test_cli_runner().invoke(main, ["export", "hsds", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for path in out.iterdir():
        assert CANARY.encode() not in path.read_bytes() and b"Zxqhidden" not in path.read_bytes()
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package == json.loads((SPEC / "datapackage.json").read_text(encoding="utf-8"))
    ids: dict[str, set[str]] = {}
    for resource in package["resources"]:
        text = (out / resource["path"]).read_text(encoding="utf-8")
        reader = csv.DictReader(io.StringIO(text))
        assert reader.fieldnames == [field["name"] for field in resource["schema"]["fields"]]
        types = {field["name"]: field["type"] for field in resource["schema"]["fields"]}
        for row in reader:
            item = {key: (float(value) if types[key] == "number" else value) for key, value in row.items() if value}
            _check(resource["name"], item)
            ids.setdefault(resource["name"], set()).add(item["id"])
    # every link points at a row of the package
    services = list(csv.DictReader(io.StringIO((out / "services.csv").read_text(encoding="utf-8"))))
    assert {row["organization_id"] for row in services} <= ids["organization"]
    areas = list(csv.DictReader(io.StringIO((out / "service_areas.csv").read_text(encoding="utf-8"))))
    assert {row["service_id"] for row in areas} <= ids["service"]
    attributes = list(csv.DictReader(io.StringIO((out / "attributes.csv").read_text(encoding="utf-8"))))
    assert {row["taxonomy_term_id"] for row in attributes} <= ids["taxonomy_term"]
    assert {row["link_id"] for row in attributes} <= ids["service"]
    page = json.loads((out / "organizations.json").read_text(encoding="utf-8"))
    assert shelter in {org["organization_identifiers"][0]["identifier"] for org in page["contents"]}
    assert [event.count for event in audit_events(action="export:hsds")] == [page["total_items"]]


def test_the_hsds_path_is_no_agency_id(app: Flask) -> None:
    import pytest

    from nrm_api.agencies import service
    from nrm_api.errors import InvalidError

    with pytest.raises(InvalidError, match="reserved"):
        service.add_agency(Actor.operator(), "hsds", kind="ngo", name_en="Shadowed")
