"""The directory's use cases: register agencies, list and read them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from ..audit import events as audit
from ..audit.actor import Actor
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db
from ..permissions import Permission
from . import directory
from .models import KINDS, REGIONS, Agency, AgencyService

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
#: Ids the directory's own paths take (``GET /agencies/hsds``).
RESERVED_IDS = frozenset({"hsds"})


def add_agency(
    actor: Actor,
    agency_id: str,
    *,
    kind: str,
    name_en: str,
    name_ru: str | None = None,
    name_be: str | None = None,
    regions: Sequence[str] = (),
) -> Agency:
    """Register an agency of the network."""
    if not ID_PATTERN.fullmatch(agency_id):
        raise InvalidError("an agency id is 2-64 characters: lowercase letters, digits and '-'")
    if agency_id in RESERVED_IDS:
        raise InvalidError(f"{agency_id!r} is reserved by the directory's paths; choose another id")
    if kind not in KINDS:
        raise InvalidError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    unknown = [region for region in regions if region not in REGIONS]
    if unknown:
        raise InvalidError(f"unknown region {unknown[0]!r}: one of {', '.join(REGIONS)}")
    if not name_en.strip():
        raise InvalidError("the agency needs a name")
    if db.session.get(Agency, agency_id) is not None:
        raise ConflictError(f"agency {agency_id!r} exists already")
    agency = Agency(
        id=agency_id, kind=kind, name_en=name_en, name_ru=name_ru or name_en, name_be=name_be or name_en,
        regions=sorted(set(regions)),
    )
    db.session.add(agency)
    audit.record(actor, Permission.AGENCY_CREATE, "allowed", resource=f"agency:{agency_id}")
    db.session.commit()
    return agency


def list_agencies(actor: Actor, *, kind: str | None = None, region: str | None = None,
                  service: str | None = None, vacant: bool = False) -> list[dict[str, Any]]:
    """The directory, optionally cut by kind, region and service (offered in that region).

    ``vacant`` keeps only agencies offering that service (any, without one) with a place free
    now, or whose places are not counted (legal aid has no beds).
    """
    query = select(Agency).order_by(Agency.id)
    if kind:
        query = query.where(Agency.kind == kind)
    agencies = list(db.session.scalars(query))
    offered = directory.services_of([agency.id for agency in agencies])
    found = [entry(agency, offered[agency.id]) for agency in agencies
             if _matches(agency, offered[agency.id], region, service, vacant)]
    audit.record(actor, Permission.AGENCY_READ, "allowed", resource="agency:*")
    db.session.commit()
    return found


def _matches(agency: Agency, offered: list[AgencyService], region: str | None, service: str | None,
             vacant: bool = False) -> bool:
    if service is None and not vacant:
        return region is None or region in agency.regions
    return any((service is None or row.service == service)
               and (region is None or region in (row.regions or agency.regions))
               and (not vacant or row.vacancies is None or row.vacancies > 0) for row in offered)


def entry(agency: Agency, offered: list[AgencyService], address: str | None = None) -> dict[str, Any]:
    """An agency as the directory shows it."""
    shown: dict[str, Any] = {
        "id": agency.id, "kind": agency.kind, "regions": list(agency.regions),
        "name": {"en": agency.name_en, "ru": agency.name_ru, "be": agency.name_be},
        "services": [{"service": row.service, "regions": list(row.regions or agency.regions),
                      "age_bands": list(row.age_bands), "sexes": list(row.sexes), "capacity": row.capacity,
                      "vacancies": row.vacancies, "updated_at": row.updated_at.isoformat()} for row in offered]}
    if address is not None:
        shown["address"] = address
    return shown


def get_agency(actor: Actor, agency_id: str) -> dict[str, Any]:
    """One agency of the directory; its confidential address only to those who may see it."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency {agency_id!r}", resource=f"agency:{agency_id}", action=Permission.AGENCY_READ)
    shown = directory.address_for(actor, agency)
    # a disclosure of the address names the field and the referral (or own agency) it was shown for
    audit.record(actor, Permission.AGENCY_READ, "allowed", resource=f"agency:{agency_id}",
                 fields=["address"] if shown else [], reason=shown[1] if shown else None)
    db.session.commit()
    return entry(agency, directory.services_of([agency_id])[agency_id], shown[0] if shown else None)


def hsds_directory(actor: Actor, *, export: bool = False) -> list[dict[str, Any]]:
    """The whole directory as HSDS 3.0 organizations (``hsds``): public entries only, never an address.

    Audited as a directory read (``agency:read``, reason ``hsds``) or, from the command line, as
    ``export:hsds`` with the number of organizations.
    """
    from ..audit.actions import AuditAction
    from . import hsds

    agencies = list(db.session.scalars(select(Agency).order_by(Agency.id)))
    offered = directory.services_of([agency.id for agency in agencies])
    found = [hsds.organization(agency, offered[agency.id]) for agency in agencies]
    if export:
        audit.record(actor, AuditAction.EXPORT_HSDS, "allowed", resource="agency:*", count=len(found))
    else:
        audit.record(actor, Permission.AGENCY_READ, "allowed", resource="agency:*", reason="hsds")
    db.session.commit()
    return found


def require_agency(agency_id: str) -> Agency:
    """The agency named, for other services; a clear error if there is none."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency {agency_id!r}")
    return agency
