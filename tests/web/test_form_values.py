"""The web form's steps come from the one form definition, and a posted step becomes its section as typed."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from nrm_api.forms.document import FormDocumentSchema
from nrm_api.forms.examples import adult_identified
from nrm_api.forms.rules import consent_errors
from nrm_api.vocabulary import LANGUAGES, code_lists
from nrm_api.web.form_definition import STEPS, controls_by_path, every_path, step_control
from nrm_api.web.form_values import (
    MISSING,
    field_of_error,
    flat_errors,
    parse_step,
    shown_in_input,
    value_at,
    with_section,
)


def test_every_section_of_the_document_is_a_step_and_consent_comes_before_anything_identifying() -> None:
    assert set(STEPS) == set(FormDocumentSchema().fields) - {"schema_version"}
    identifying = [path for path, control in controls_by_path().items() if control.sensitivity == "identifying"]
    first_identifying_step = min(STEPS.index(path.split(".")[0]) for path in identifying)
    assert STEPS[0] == "consent" and first_identifying_step > 0


def test_every_field_and_step_has_a_label_in_three_languages_in_the_vocabulary() -> None:
    lists = code_lists()
    assert list(lists["form_field"]) == every_path()  # in the order of the pages, none missing, none left over
    assert list(lists["form_step"]) == list(STEPS)
    for entries in (lists["form_field"], lists["form_step"]):
        assert all(set(labels) == set(LANGUAGES) and all(labels.values()) for labels in entries.values())


def test_controls_follow_the_schema_fields() -> None:
    controls = controls_by_path()
    assert controls["person.birthdate"].widget == "date"
    assert controls["consent.obtained_at"].widget == "datetime"
    assert controls["person.gender"].widget == "select" and controls["person.gender"].code_list == "gender"
    assert controls["exploitation.types_of_exploitation"].widget == "choices"
    assert controls["exploitation.locations"].widget == "items"
    assert controls["person.citizenship"].widget == "texts"
    assert controls["consent.recipients"].widget == "recipients"  # a box per agency kind, texts for agency ids
    assert controls["account.narrative"].widget == "textarea"
    assert controls["person.number_of_children"].widget == "number"
    assert controls["consent.purposes.identification"].widget == "checkbox"
    assert controls["person.gender"].options("be")[0] == ("Feminine", "Жаночы")


def test_a_posted_step_becomes_its_section() -> None:
    posted = MultiDict([("exploitation.types_of_exploitation", "ForcedLabour"),
                        ("exploitation.types_of_exploitation", "ForcedCriminality"),
                        ("exploitation.age_when_trafficked", "24"),
                        ("exploitation.relationship_to_trafficker", ""),
                        ("exploitation.locations.0.type", "Recruitment"), ("exploitation.locations.0.country", "BY"),
                        ("exploitation.locations.1.type", ""), ("exploitation.locations.1.country", ""),
                        ("exploitation.locations.2.type", "Exploitation"),
                        ("exploitation.locations.2.country", "RU"),
                        ("exploitation.locations.2.start_date", "2026-03-01"), ("action", "continue")])
    assert parse_step(step_control("exploitation"), posted) == {
        "types_of_exploitation": ["ForcedLabour", "ForcedCriminality"], "age_when_trafficked": 24,
        "locations": [{"type": "Recruitment", "country": "BY"},
                      {"type": "Exploitation", "country": "RU", "start_date": "2026-03-01"}]}


def test_checkboxes_post_true_and_unticked_ones_are_false_where_they_are_the_answers() -> None:
    posted = MultiDict([("consent.purposes.identification", "true"), ("consent.obtained_at", "2026-11-20T10:00"),
                        ("consent.method", "oral")])
    section = parse_step(step_control("consent"), posted)
    assert section["purposes"] == {"identification": True, "assistance": False, "data_sharing": False,
                                   "statistics": False}
    assert section["checklist"] == dict.fromkeys(("told_purpose", "told_uses", "told_right_to_access",
                                                  "told_retention", "told_withdrawal"), False)
    assert section["obtained_at"] == "2026-11-20T10:00:00+00:00" and section["method"] == "oral"
    assert "recipients" not in section and "language" not in section
    assert parse_step(step_control("child"), MultiDict()) is MISSING  # nothing typed: no section at all


def test_what_is_not_what_the_field_wants_goes_in_as_typed_for_the_schema_to_refuse() -> None:
    posted = MultiDict([("person.number_of_children", "two"), ("person.birthdate", "14.07.1998"),
                        ("child.is_minor", "yes")])
    person = parse_step(step_control("person"), posted)
    assert person == {"number_of_children": "two", "birthdate": "14.07.1998"}
    assert parse_step(step_control("child"), posted) == {"is_minor": "yes", "age_disputed": False}


def test_an_example_document_goes_through_its_pages_unchanged() -> None:
    document = adult_identified()
    rebuilt: dict = {"schema_version": "1"}
    for step in STEPS:
        posted = MultiDict()
        _post(step_control(step), step, document, posted)
        rebuilt = with_section(rebuilt, step, parse_step(step_control(step), posted))
    document["screening"].pop("interpreter_used")  # an unticked box is false, as in the example
    rebuilt["screening"].pop("interpreter_used")
    rebuilt["consent"]["obtained_at"] = document["consent"]["obtained_at"]  # the same moment, shown in UTC
    assert rebuilt == document
    FormDocumentSchema().load(rebuilt)
    assert consent_errors(rebuilt, date(2026, 12, 1)) == {}


def _post(control, name: str, document: dict, posted: MultiDict) -> None:
    value = value_at(document, name)
    if control.widget == "group":
        for child in control.children:
            _post(child, f"{name}.{child.key}", document, posted)
    elif control.widget == "items":
        for index in range(len(value or [])):
            for child in control.children:
                _post(child, f"{name}.{index}.{child.key}", document, posted)
    elif control.widget in ("choices", "texts", "recipients"):
        for item in value or []:
            posted.add(name, item)
    elif control.widget == "checkbox":
        if value:
            posted.add(name, "true")
    elif value is not None:
        posted.add(name, shown_in_input(control.widget, value))


def test_a_moment_is_shown_in_utc_for_datetime_local() -> None:
    assert shown_in_input("datetime", "2026-11-20T10:00:00+03:00") == "2026-11-20T07:00"
    assert shown_in_input("text", None) == ""


@pytest.mark.parametrize(("messages", "flat"), [
    ({"person": {"first_name": ["Too long."]}}, {"person.first_name": ["Too long."]}),
    ({"exploitation": {"locations": {1: {"country": ["bad"]}}}}, {"exploitation.locations.1.country": ["bad"]}),
    ({"person.first_name": ["no identifying field"]}, {"person.first_name": ["no identifying field"]}),
    ({"child": {"_schema": ["odd"]}}, {"child": ["odd"]}),
])
def test_errors_are_named_by_dotted_path(messages: dict, flat: dict) -> None:
    assert flat_errors(messages) == flat


def test_an_error_on_one_value_of_a_list_belongs_to_the_list() -> None:
    controls = controls_by_path()
    assert field_of_error("exploitation.types_of_exploitation.0", controls) == "exploitation.types_of_exploitation"
    assert field_of_error("exploitation.locations.1.country", controls) == "exploitation.locations.1.country"
