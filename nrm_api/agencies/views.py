"""The directory over HTTP."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..accounts.permissions import Permission
from . import service
from .schemas import AgencyCreateSchema, AgencyQuerySchema, AgencySchema

blp = Blueprint("agencies", __name__, url_prefix="/api/v1/agencies", description="The directory of agencies")


@blp.route("", methods=["GET"])
@requires(Permission.AGENCY_READ)
@blp.arguments(AgencyQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, AgencySchema(many=True))
def list_agencies(query: dict[str, Any]) -> Any:
    """List the agencies of the network."""
    return service.list_agencies(current_actor(), kind=query.get("kind"), region=query.get("region"))


@blp.route("", methods=["POST"])
@requires(Permission.AGENCY_CREATE)
@blp.arguments(AgencyCreateSchema)
@blp.response(201, AgencySchema)
def create_agency(agency: dict[str, Any]) -> Any:
    """Register an agency of the network (network administrators)."""
    names = agency["name"]
    return service.add_agency(current_actor(), agency["id"], kind=agency["kind"], name_en=names["name_en"],
                              name_ru=names["name_ru"], name_be=names["name_be"], regions=agency["regions"])


@blp.route("/<agency_id>", methods=["GET"])
@requires(Permission.AGENCY_READ)
@blp.response(200, AgencySchema)
def get_agency(agency_id: str) -> Any:
    """Read one agency of the directory."""
    return service.get_agency(current_actor(), agency_id)
