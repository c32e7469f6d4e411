"""Wire shapes of the directory."""

from __future__ import annotations

import marshmallow as ma

from ..fields import FullMatch, StrictInteger
from ..vocabulary import codes
from .models import KINDS, REGIONS

#: The directory's eligibility and offer codes: the vocabulary's lists, never a copy.
AGE_BANDS, SEXES, SERVICES = tuple(codes("age_band")), tuple(codes("gender")), tuple(codes("service"))


class AgencyNameSchema(ma.Schema):
    """An agency's name in the network's three languages."""

    class Meta:
        unknown = ma.RAISE

    en = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))
    ru = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))
    be = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))


class ServiceSchema(ma.Schema):
    """A service an agency offers: where, for whom, how many places."""

    class Meta:
        unknown = ma.RAISE

    service = ma.fields.String(required=True, validate=ma.validate.OneOf(SERVICES))
    regions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIONS)), load_default=list,
                             metadata={"description": "Where it is offered; empty: all the agency's regions."})
    age_bands = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(AGE_BANDS)), load_default=list,
                               metadata={"description": "CTDC age bands served; empty: any age."})
    sexes = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SEXES)), load_default=list,
                           metadata={"description": "Served; empty: anyone."})
    capacity = StrictInteger(allow_none=True, validate=ma.validate.Range(0, 100000))
    vacancies = StrictInteger(allow_none=True, validate=ma.validate.Range(0, 100000))
    updated_at = ma.fields.String(dump_only=True)


class ServicesInSchema(ma.Schema):
    """Every service the agency offers (replaces the list)."""

    class Meta:
        unknown = ma.RAISE

    services = ma.fields.List(ma.fields.Nested(ServiceSchema), required=True)


class VacanciesSchema(ma.Schema):
    """Places free now."""

    class Meta:
        unknown = ma.RAISE

    vacancies = StrictInteger(required=True, validate=ma.validate.Range(0, 100000))


class AddressSchema(ma.Schema):
    """The confidential address: shown only to the agency and to agencies whose referral it has accepted."""

    class Meta:
        unknown = ma.RAISE

    address = ma.fields.String(required=True, allow_none=True, validate=ma.validate.Length(1, 500))


class AgencySchema(ma.Schema):
    """An agency as the directory shows it to any signed-in principal."""

    id = ma.fields.String(required=True, metadata={"example": "moi"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    # one component for both directions: an inline object here made generated clients drop Agency
    name = ma.fields.Nested(AgencyNameSchema, required=True)
    regions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIONS)), required=True)
    services = ma.fields.List(ma.fields.Nested(ServiceSchema), required=True)
    address = ma.fields.String(metadata={"description": (
        "Only to the agency itself, and to the casework roles of an agency whose referral it has accepted "
        "(accepted, in-progress, on-hold); each showing is audited."), "x-sensitivity": "identifying"})


class AgencyQuerySchema(ma.Schema):
    """Filters of the directory."""

    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    region = ma.fields.String(validate=ma.validate.OneOf(REGIONS))
    service = ma.fields.String(validate=ma.validate.OneOf(SERVICES))


class AgencyCreateSchema(ma.Schema):
    """A new agency of the network, registered by a network administrator."""

    class Meta:
        unknown = ma.RAISE

    id = ma.fields.String(required=True, validate=FullMatch(r"^[a-z0-9][a-z0-9-]{1,63}$"),
                          metadata={"example": "shelter-gomel"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    name = ma.fields.Nested(AgencyNameSchema, required=True)
    regions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIONS)), load_default=list)


class HsdsPageSchema(ma.Schema):
    """The directory as Open Referral HSDS 3.0: the HSDS API Reference's ``Page`` of organizations.

    Each item of ``contents`` is an HSDS 3.0 ``organization`` (schema/organization.json of
    openreferral/specification 3.0) with its ``services`` embedded, each with ``service_areas`` and
    ``attributes`` (eligibility, service type, places). No confidential address is ever included.
    """

    total_items = ma.fields.Integer(required=True)
    total_pages = ma.fields.Integer(required=True)
    page_number = ma.fields.Integer(required=True)
    size = ma.fields.Integer(required=True)
    first_page = ma.fields.Boolean(required=True)
    last_page = ma.fields.Boolean(required=True)
    empty = ma.fields.Boolean(required=True)
    contents = ma.fields.List(ma.fields.Dict(), required=True, metadata={
        "description": "HSDS 3.0 organizations, services embedded (https://docs.openreferral.org/en/3.0/)"})
