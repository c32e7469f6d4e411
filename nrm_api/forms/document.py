"""The identification form, defined once: validation, encryption, disclosure and the OpenAPI document.

Every field names its ``x-sensitivity`` — ``public``, ``identifying``, ``special`` or
``investigative`` — in its metadata. A nested object that carries a sensitivity other than
``public`` is one field: encrypted, disclosed and withheld as a whole.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import marshmallow as ma

from ..fields import (
    IDENTIFYING,
    INVESTIGATIVE,
    PUBLIC,
    SPECIAL,
    FullMatch,
    Strict,
    StrictInteger,
    code,
    codes_of,
    flag,
    meta,
    text,
)

SCHEMA_VERSION = "1"
COUNTRY = FullMatch(r"^[A-Z]{2}$", error="an ISO 3166-1 alpha-2 code, e.g. BY")
LANGUAGE = FullMatch(r"^[a-z]{2,3}$", error="an ISO 639 code, e.g. ru")


class PersonSchema(Strict):
    """Who the person is (HTCDS ``prs_``): identifying, every field encrypted."""

    first_name = text(IDENTIFYING, "First name, as in the identity document (Latin).", 100)
    middle_name = text(IDENTIFYING, "Middle name or patronymic (Latin).", 100)
    second_name = text(IDENTIFYING, "Family name (HTCDS prs_SecondName) (Latin).", 100)
    first_name_cyrillic = text(IDENTIFYING, "First name as written in Cyrillic.", 100)
    middle_name_cyrillic = text(IDENTIFYING, "Patronymic as written in Cyrillic.", 100)
    second_name_cyrillic = text(IDENTIFYING, "Family name as written in Cyrillic.", 100)
    birthdate = ma.fields.Date(metadata=meta(IDENTIFYING, "Date of birth."))
    gender = code("gender", IDENTIFYING, "Gender.")
    citizenship = ma.fields.List(ma.fields.String(validate=COUNTRY), metadata=meta(IDENTIFYING, "Citizenships."))
    identity_number = text(IDENTIFYING, "Number of the identity document.", 64)
    identity_document_type = code("identity_document_type", IDENTIFYING, "Kind of identity document.")
    primary_language = ma.fields.String(validate=LANGUAGE, metadata=meta(IDENTIFYING, "Primary language."))
    secondary_language = ma.fields.String(validate=LANGUAGE, metadata=meta(IDENTIFYING, "Second language."))
    mailing_address = text(IDENTIFYING, "Where the person can be reached.", 500)
    mobile_phone = text(IDENTIFYING, "Mobile phone.", 40)
    email = ma.fields.Email(metadata=meta(IDENTIFYING, "E-mail address."))
    marital_status = code("marital_status", IDENTIFYING, "Marital status.")
    number_of_children = StrictInteger(validate=ma.validate.Range(0, 30),
                                       metadata=meta(IDENTIFYING, "Number of children."))
    education_level = code("education_level", IDENTIFYING, "Highest level of education (ISCED 2011).")


class LegalRepresentativeSchema(Strict):
    """A child's legal representative."""

    name = text(IDENTIFYING, "Full name.", 200, required=True)
    relation = text(IDENTIFYING, "Relation to the child, e.g. mother, guardian.", 100, required=True)
    contact = text(IDENTIFYING, "How to reach them.", 300)
    informed = flag(IDENTIFYING, "Whether they were informed of the referral.", required=True)


class ChildSchema(Strict):
    """Whether the person is a child: under 18, or presumed one while the age is disputed."""

    is_minor = flag(PUBLIC, "Under 18 (must agree with person.birthdate, which decides at each referral).",
                    required=True)
    age_disputed = flag(PUBLIC, "Age disputed: the person is presumed a child.", load_default=None)
    separated_or_unaccompanied = code("separated_or_unaccompanied", SPECIAL, "Whether the child travels alone.")
    legal_representative = ma.fields.Nested(LegalRepresentativeSchema, metadata=meta(
        IDENTIFYING, "Required for a child: who represents them."))


class LocationSchema(Strict):
    """A place in the trafficking process (HTCDS ``hte_``)."""

    type = code("location_type", PUBLIC, "Recruitment, transit or exploitation.", required=True)
    country = ma.fields.String(required=True, validate=COUNTRY, metadata=meta(PUBLIC, "Country."))
    oblast = code("oblast", PUBLIC, "For Belarus: the oblast (or Minsk city).")
    start_date = ma.fields.Date(metadata=meta(PUBLIC, "From."))
    end_date = ma.fields.Date(metadata=meta(PUBLIC, "Until."))


class ExploitationSchema(Strict):
    """What happened (HTCDS ``vic_``): public, for statistics."""

    types_of_exploitation = codes_of("type_of_exploitation", PUBLIC, "Types of exploitation.", at_least=1,
                                     required=True)
    types_of_sexual_exploitation = codes_of("type_of_sexual_exploitation", PUBLIC, "Types of sexual exploitation.")
    forced_labour_industries = codes_of("forced_labour_industry", PUBLIC, "Industries of forced labour (ISIC).")
    recruitment_methods = codes_of("method_of_recruitment", PUBLIC, "How the person was recruited.")
    websites_or_apps = codes_of("website_or_app", PUBLIC, "Sites and apps used to recruit or exploit.")
    control_methods = codes_of("method_of_control", PUBLIC, "How the person was controlled.")
    relationship_to_trafficker = code("relationship_to_trafficker", PUBLIC, "Relationship to the trafficker.")
    age_when_trafficked = StrictInteger(validate=ma.validate.Range(0, 120),
                                        metadata=meta(PUBLIC, "Age when trafficked."))
    locations = ma.fields.List(ma.fields.Nested(LocationSchema), metadata=meta(PUBLIC, "Places and periods."))


class AccountSchema(Strict):
    """The person's own account, health and needs: special category, encrypted."""

    narrative = text(SPECIAL, "The person's account, in their words.", 20000)
    health = text(SPECIAL, "Health, as far as the person shares it.", 5000)
    needs = text(SPECIAL, "What the person needs.", 5000)


class PerpetratorSchema(Strict):
    """One perpetrator, as far as known (HTCDS ``per_`` and what its users asked for)."""

    role = code("perpetrator_role", INVESTIGATIVE, "Role in the process.", required=True)
    kind = code("perpetrator_kind", INVESTIGATIVE, "An individual or a business.")
    nationality = ma.fields.String(validate=COUNTRY, metadata=meta(INVESTIGATIVE, "Nationality."))
    gender = code("gender", INVESTIGATIVE, "Gender.")
    approximate_age = StrictInteger(validate=ma.validate.Range(0, 120),
                                    metadata=meta(INVESTIGATIVE, "Approximate age."))
    relationship = code("relationship_to_trafficker", INVESTIGATIVE, "Relationship to the person.")
    description = text(INVESTIGATIVE, "What is known of them.", 5000)
    criminal_case_reference = text(INVESTIGATIVE, "Criminal case reference.", 100)


class ConsentPurposesSchema(Strict):
    """To what the person consented."""

    identification = flag(PUBLIC, "To be identified by the authority.", required=True)
    assistance = flag(PUBLIC, "To be referred for assistance.", required=True)
    data_sharing = flag(PUBLIC, "To their data going to the recipients named.", required=True)
    statistics = flag(PUBLIC, "To anonymous statistics.", required=True)


class ConsentChecklistSchema(Strict):
    """What the person was told before consenting (HTCDS ``con_Consent``)."""

    told_purpose = flag(PUBLIC, "The purpose.", required=True)
    told_uses = flag(PUBLIC, "How the data will be used.", required=True)
    told_right_to_access = flag(PUBLIC, "The right to see their data.", required=True)
    told_retention = flag(PUBLIC, "How long it is kept.", required=True)
    told_withdrawal = flag(PUBLIC, "How to withdraw consent.", required=True)


class ConsentSchema(Strict):
    """The person's consent, per purpose and recipient."""

    purposes = ma.fields.Nested(ConsentPurposesSchema, required=True, metadata=meta(PUBLIC, "Per purpose."))
    recipients = ma.fields.List(
        ma.fields.String(validate=FullMatch(r"^(kind:(authority|international|ngo)|[a-z0-9][a-z0-9-]{1,63})$")),
        load_default=list, metadata=meta(PUBLIC, "Agencies (by id) or kinds (`kind:ngo`) the data may go to. "
                                                 "None named (or absent): to nobody, unless the person is a child."))
    obtained_at = ma.fields.AwareDateTime(required=True, metadata=meta(PUBLIC, "When consent was obtained."))
    obtained_by = text(PUBLIC, "Who obtained it (staff role or name).", 200, required=True)
    method = code("consent_method", PUBLIC, "Written or oral.", required=True)
    language = ma.fields.String(required=True, validate=LANGUAGE, metadata=meta(PUBLIC, "Language used."))
    checklist = ma.fields.Nested(ConsentChecklistSchema, metadata=meta(PUBLIC, "What the person was told."))


class ScreeningSchema(Strict):
    """How the person was detected and screened."""

    detected_by = code("detected_by", PUBLIC, "Who detected the person.", required=True)
    method = text(PUBLIC, "How (interview, hotline call, inspection …).", 200)
    detected_on = ma.fields.Date(metadata=meta(PUBLIC, "When."))
    place = text(PUBLIC, "Where (town, border crossing …).", 200)
    language = ma.fields.String(validate=LANGUAGE, metadata=meta(PUBLIC, "Language of the interview."))
    interpreter_used = flag(PUBLIC, "Whether an interpreter took part.")
    interpreter_language = ma.fields.String(validate=LANGUAGE, metadata=meta(PUBLIC, "The interpreter's language."))


class StatisticsSchema(Strict):
    """The non-identifying summary lists and statistics use."""

    age_band = code("age_band", PUBLIC, "Age band (CTDC).", required=True)
    sex = code("gender", PUBLIC, "Sex or gender.", required=True)
    citizenship = ma.fields.String(validate=COUNTRY, metadata=meta(PUBLIC, "Main citizenship."))
    year = StrictInteger(required=True, validate=ma.validate.Range(2000, 2100),
                         metadata=meta(PUBLIC, "Year of registration."))


class FormDocumentSchema(Strict):
    """An identification form as an agency signs and submits it."""

    schema_version = ma.fields.String(required=True, validate=ma.validate.Equal(SCHEMA_VERSION),
                                      metadata=meta(PUBLIC, "Version of this schema: `1`."))
    person = ma.fields.Nested(PersonSchema, metadata=meta(PUBLIC, "Absent in an anonymous notification."))
    child = ma.fields.Nested(ChildSchema, metadata=meta(PUBLIC, "Whether the person is a child."))
    exploitation = ma.fields.Nested(ExploitationSchema, required=True, metadata=meta(PUBLIC, "What happened."))
    account = ma.fields.Nested(AccountSchema, metadata=meta(PUBLIC, "The person's account (special)."))
    perpetrators = ma.fields.List(ma.fields.Nested(PerpetratorSchema),
                                  metadata=meta(INVESTIGATIVE, "Perpetrators, as far as known."))
    consent = ma.fields.Nested(ConsentSchema, required=True, metadata=meta(PUBLIC, "The person's consent."))
    screening = ma.fields.Nested(ScreeningSchema, required=True, metadata=meta(PUBLIC, "Detection."))
    statistics = ma.fields.Nested(StatisticsSchema, required=True, metadata=meta(PUBLIC, "Summary."))


@cache
def draft_of(schema: type[ma.Schema], prefix: str = "Draft") -> type[ma.Schema]:
    """``schema`` as a draft may hold it: the same fields and rules, none required, at every depth.

    Only the documentation uses it: drafts load with ``partial=True``, which marshmallow passes down.
    """
    fields = {name: _optional(field, prefix) for name, field in schema().fields.items()}
    return type(f"{prefix}{schema.__name__}", (Strict,), {**fields, "__doc__": schema.__doc__})


def _optional(field: ma.fields.Field[Any], prefix: str) -> ma.fields.Field[Any]:
    copied = copy.copy(field)
    copied.required = False
    if isinstance(copied, ma.fields.Nested) and isinstance(copied.nested, type):
        copied.nested = draft_of(copied.nested, prefix)
    if isinstance(copied, ma.fields.List):
        copied.inner = _optional(copied.inner, prefix)
    return copied
