"""What agencies publish in the directory: services, eligibility, capacity, and a confidential address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..errors import DomainError, InvalidError, NotFoundError
from ..extensions import db, keyring
from ..permissions import Permission, role_allows
from ..referrals.models import Referral
from ..referrals.rules import TAKEN_ON
from .models import Agency, AgencyService

ACTION = Permission.AGENCY_MANAGE


class NotYourAgency(DomainError):
    """Agencies publish their own entry; network administrators and operators any."""

    status, slug, title = 403, "forbidden", "Forbidden"


def managed(actor: Actor, agency_id: str) -> Agency:
    """The agency, if the caller may change its entry; its row is then locked until commit.

    Every change of an agency's services takes the lock, so changes made at once (two admins, the
    API's PUT beside the page's add, places beside a removal) follow one another instead of losing
    or breaking one. The caller is judged before the lock: a refused caller holds nothing.
    """
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency {agency_id!r}", resource=f"agency:{agency_id}", action=ACTION)
    if actor.agency != agency_id and actor.role not in ("network_admin", "operator"):
        raise NotYourAgency("an agency publishes its own directory entry", reason="not_own_agency",
                            resource=f"agency:{agency_id}", action=ACTION)
    db.session.execute(select(Agency.id).where(Agency.id == agency_id).with_for_update())
    return agency


def set_services(actor: Actor, agency_id: str, services: list[dict[str, Any]]) -> Agency:
    """Replace the services an agency offers."""
    agency = managed(actor, agency_id)
    codes = [service["service"] for service in services]
    if len(set(codes)) != len(codes):
        raise InvalidError("a service is listed twice", errors={"json": {"services": ["duplicate service"]}},
                           reason="invalid_document", resource=f"agency:{agency_id}", action=ACTION)
    for service in services:
        vacancies, capacity = service.get("vacancies"), service.get("capacity")
        if vacancies is not None and capacity is not None and vacancies > capacity:
            raise InvalidError("vacancies exceed capacity", errors={"json": {service["service"]: ["vacancies"]}},
                               reason="invalid_document", resource=f"agency:{agency_id}", action=ACTION)
    db.session.execute(delete(AgencyService).where(AgencyService.agency_id == agency_id))
    now = utcnow()
    db.session.add_all([AgencyService(agency_id=agency_id, service=s["service"], regions=sorted(s["regions"]),
                                      age_bands=s["age_bands"], sexes=s["sexes"], capacity=s.get("capacity"),
                                      vacancies=s.get("vacancies"), updated_at=now) for s in services])
    audit.record(actor, ACTION, "allowed", resource=f"agency:{agency_id}", reason="services")
    db.session.commit()
    return agency


def add_service(actor: Actor, agency_id: str, service: dict[str, Any]) -> AgencyService:
    """Publish one more service (a valid ``ServiceSchema`` entry); the others stay exactly as they are.

    The agency's row is locked first (``managed``), so two admins adding at once both land.
    """
    managed(actor, agency_id)
    resource = f"agency:{agency_id}"
    if db.session.get(AgencyService, (agency_id, service["service"])) is not None:
        raise InvalidError("a service is listed twice", errors={"json": {"services": ["duplicate service"]}},
                           reason="invalid_document", resource=resource, action=ACTION)
    capacity, vacancies = service.get("capacity"), service.get("vacancies")
    if vacancies is not None and capacity is not None and vacancies > capacity:
        raise InvalidError("vacancies exceed capacity", errors={"json": {service["service"]: ["vacancies"]}},
                           reason="invalid_document", resource=resource, action=ACTION)
    row = AgencyService(agency_id=agency_id, service=service["service"], regions=sorted(service["regions"]),
                        age_bands=service.get("age_bands", []), sexes=service.get("sexes", []), capacity=capacity,
                        vacancies=vacancies, updated_at=utcnow())
    db.session.add(row)
    audit.record(actor, ACTION, "allowed", resource=resource, reason="services")
    db.session.commit()
    return row


def remove_service(actor: Actor, agency_id: str, service: str) -> None:
    """Stop publishing ``service``; ``NotFoundError`` if the agency does not publish it."""
    managed(actor, agency_id)
    row = db.session.get(AgencyService, (agency_id, service))
    if row is None:
        raise NotFoundError(f"{agency_id} does not publish {service}", resource=f"agency:{agency_id}", action=ACTION)
    db.session.delete(row)
    audit.record(actor, ACTION, "allowed", resource=f"agency:{agency_id}", reason="services")
    db.session.commit()


def set_vacancies(actor: Actor, agency_id: str, service: str, vacancies: int) -> AgencyService:
    """Update how many places a service has free now (the agency's system, several times a day)."""
    managed(actor, agency_id)
    row = db.session.get(AgencyService, (agency_id, service))
    if row is None:
        raise NotFoundError(f"{agency_id} does not publish {service}", resource=f"agency:{agency_id}", action=ACTION)
    if row.capacity is not None and vacancies > row.capacity:
        raise InvalidError("vacancies exceed capacity", errors={"json": {"vacancies": ["exceeds capacity"]}},
                           reason="invalid_document", resource=f"agency:{agency_id}", action=ACTION)
    row.vacancies, row.updated_at = vacancies, utcnow()
    audit.record(actor, ACTION, "allowed", resource=f"agency:{agency_id}", reason="vacancies")
    db.session.commit()
    return row


#: The most places a service may count (as the API's schema bounds them).
MAX_PLACES = 100000


def set_places(actor: Actor, agency_id: str, service: str, capacity: int | None,
               vacancies: int | None) -> AgencyService:
    """Change how many places a service has (``None``: not counted) and how many are free now, at once."""
    managed(actor, agency_id)
    row = db.session.get(AgencyService, (agency_id, service))
    if row is None:
        raise NotFoundError(f"{agency_id} does not publish {service}", resource=f"agency:{agency_id}", action=ACTION)
    errors = {name: ["out of range"] for name, value in (("capacity", capacity), ("vacancies", vacancies))
              if value is not None and not 0 <= value <= MAX_PLACES}
    if not errors and capacity is not None and vacancies is not None and vacancies > capacity:
        errors = {"vacancies": ["exceeds capacity"]}
    if errors:
        raise InvalidError("places out of range, or more vacancies than capacity", errors={"form": errors},
                           reason="invalid_document", resource=f"agency:{agency_id}", action=ACTION)
    row.capacity, row.vacancies, row.updated_at = capacity, vacancies, utcnow()
    audit.record(actor, ACTION, "allowed", resource=f"agency:{agency_id}", reason="places")
    db.session.commit()
    return row


def set_address(actor: Actor, agency_id: str, address: str | None) -> Agency:
    """Set (or clear) the confidential address, sealed by the keyring."""
    agency = managed(actor, agency_id)
    agency.address_sealed = keyring().seal(address.encode(), _context(agency_id)) if address else None
    audit.record(actor, ACTION, "allowed", resource=f"agency:{agency_id}", reason="address")
    db.session.commit()
    return agency


def _context(agency_id: str) -> str:
    return f"agency-address:{agency_id}"


def services_of(agency_ids: list[str]) -> dict[str, list[AgencyService]]:
    """The services of each agency."""
    found: dict[str, list[AgencyService]] = {agency_id: [] for agency_id in agency_ids}
    if agency_ids:
        rows = db.session.scalars(select(AgencyService).where(AgencyService.agency_id.in_(agency_ids))
                                  .order_by(AgencyService.agency_id, AgencyService.service))
        for row in rows:
            found[row.agency_id].append(row)
    return found


def address_for(actor: Actor, agency: Agency) -> tuple[str, str] | None:
    """The confidential address and why it may be shown (``own_agency`` or ``referral:ID``), or ``None``.

    A shelter's address endangers the people it hides if it spreads. Another agency sees it only
    when the shelter has accepted one of its referrals and that referral is not over (accepted,
    in progress, on hold), and only people or systems doing casework (who act on that referral);
    an agency cannot unlock it by sending a referral of its own, which the shelter never took on.
    """
    if agency.address_sealed is None or actor.agency is None:
        return None
    if actor.agency == agency.id:
        why = "own_agency"
    else:
        referral_id = None
        if role_allows(actor.role, Permission.REFERRAL_UPDATE):
            referral_id = db.session.scalar(select(Referral.id).where(
                Referral.from_agency == actor.agency, Referral.to_agency == agency.id,
                Referral.status.in_(TAKEN_ON)).order_by(Referral.id).limit(1))
        if referral_id is None:
            return None
        why = f"referral:{referral_id}"
    return keyring().unseal(agency.address_sealed, _context(agency.id)).decode(), why
