"""Wire shapes of the directory."""

from __future__ import annotations

import marshmallow as ma

from .models import KINDS, REGIONS


class AgencyNameSchema(ma.Schema):
    """An agency's name in the network's three languages."""

    en = ma.fields.String(required=True, attribute="name_en")
    ru = ma.fields.String(required=True, attribute="name_ru")
    be = ma.fields.String(required=True, attribute="name_be")


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
