"""The directory over HTTP."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..permissions import Permission
from . import directory, service
from .schemas import (
    AddressSchema,
    AgencyCreateSchema,
    AgencyQuerySchema,
    AgencySchema,
    HsdsPageSchema,
    ServiceSchema,
    ServicesInSchema,
    VacanciesSchema,
)

blp = Blueprint("agencies", __name__, url_prefix="/api/v1/agencies", description="The directory of agencies")


@blp.route("", methods=["GET"])
@requires(Permission.AGENCY_READ)
@blp.arguments(AgencyQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, AgencySchema(many=True))
def list_agencies(query: dict[str, Any]) -> Any:
    """List the agencies of the network."""
    return service.list_agencies(current_actor(), kind=query.get("kind"), region=query.get("region"),
                                 service=query.get("service"))


@blp.route("/hsds", methods=["GET"])
@requires(Permission.AGENCY_READ)
@blp.response(200, HsdsPageSchema)
def hsds_directory() -> Any:
    """The whole directory as Open Referral HSDS 3.0: a Page of organizations with their services embedded."""
    from . import hsds

    return hsds.page(service.hsds_directory(current_actor()))


@blp.route("", methods=["POST"])
@requires(Permission.AGENCY_CREATE)
@blp.arguments(AgencyCreateSchema)
@blp.response(201, AgencySchema)
def create_agency(agency: dict[str, Any]) -> Any:
    """Register an agency of the network (network administrators)."""
    names, actor = agency["name"], current_actor()
    added = service.add_agency(actor, agency["id"], kind=agency["kind"], name_en=names["en"],
                               name_ru=names["ru"], name_be=names["be"], regions=agency["regions"])
    return service.entry(added, [])


@blp.route("/<agency_id>", methods=["GET"])
@requires(Permission.AGENCY_READ)
@blp.response(200, AgencySchema)
def get_agency(agency_id: str) -> Any:
    """Read one agency of the directory."""
    return service.get_agency(current_actor(), agency_id)


@blp.route("/<agency_id>/services", methods=["PUT"])
@requires(Permission.AGENCY_MANAGE)
@blp.arguments(ServicesInSchema)
@blp.response(200, AgencySchema)
def set_services(body: dict[str, Any], agency_id: str) -> Any:
    """Publish the services your agency offers, with eligibility and capacity (replaces the list)."""
    actor = current_actor()
    directory.set_services(actor, agency_id, body["services"])
    return service.get_agency(actor, agency_id)


@blp.route("/<agency_id>/services/<service_code>", methods=["PATCH"])
@requires(Permission.AGENCY_MANAGE)
@blp.arguments(VacanciesSchema)
@blp.response(200, ServiceSchema)
def set_vacancies(body: dict[str, Any], agency_id: str, service_code: str) -> Any:
    """Update the places a service has free now."""
    row = directory.set_vacancies(current_actor(), agency_id, service_code, body["vacancies"])
    return {"service": row.service, "regions": row.regions, "age_bands": row.age_bands, "sexes": row.sexes,
            "capacity": row.capacity, "vacancies": row.vacancies, "updated_at": row.updated_at.isoformat()}


@blp.route("/<agency_id>/address", methods=["PUT"])
@requires(Permission.AGENCY_MANAGE)
@blp.arguments(AddressSchema)
@blp.response(204)
def set_address(body: dict[str, Any], agency_id: str) -> None:
    """Set your agency's confidential address (sealed; shown only for referrals you have accepted)."""
    directory.set_address(current_actor(), agency_id, body["address"])
