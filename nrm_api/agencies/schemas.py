"""Wire shapes of the directory."""

from __future__ import annotations

import marshmallow as ma

from .models import KINDS, REGIONS


class AgencyNameSchema(ma.Schema):
    """An agency's name in the network's three languages."""

    class Meta:
        unknown = ma.RAISE

    en = ma.fields.String(required=True, attribute="name_en", validate=ma.validate.Length(1, 300))
    ru = ma.fields.String(required=True, attribute="name_ru", validate=ma.validate.Length(1, 300))
    be = ma.fields.String(required=True, attribute="name_be", validate=ma.validate.Length(1, 300))


class AgencySchema(ma.Schema):
    """An agency as the directory shows it to any signed-in principal."""

    id = ma.fields.String(required=True, metadata={"example": "moi"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    name = ma.fields.Method("_names", required=True, metadata={"type": "object"})
    regions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIONS)), required=True)

    def _names(self, agency: object) -> dict[str, str]:
        return dict(AgencyNameSchema().dump(agency))


class AgencyQuerySchema(ma.Schema):
    """Filters of the directory."""

    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    region = ma.fields.String(validate=ma.validate.OneOf(REGIONS))


class AgencyCreateSchema(ma.Schema):
    """A new agency of the network, registered by a network administrator."""

    class Meta:
        unknown = ma.RAISE

    id = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,63}$"),
                          metadata={"example": "shelter-gomel"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    name = ma.fields.Nested(AgencyNameSchema, required=True)
    regions = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIONS)), load_default=list)
