"""The directory's use cases: register agencies, list and read them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select

from ..accounts.permissions import Permission
from ..audit import service as audit
from ..audit.actor import Actor
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db
from .models import KINDS, REGIONS, Agency

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


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
    if not ID_PATTERN.match(agency_id):
        raise InvalidError("an agency id is 2-64 characters: lowercase letters, digits and '-'")
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


def list_agencies(actor: Actor, *, kind: str | None = None, region: str | None = None) -> list[Agency]:
    """The directory, optionally cut by kind and region."""
    query = select(Agency).order_by(Agency.id)
    if kind:
        query = query.where(Agency.kind == kind)
    agencies = [a for a in db.session.scalars(query) if region is None or region in a.regions]
    audit.record(actor, Permission.AGENCY_READ, "allowed", resource="agency:*")
    db.session.commit()
    return agencies


def get_agency(actor: Actor, agency_id: str) -> Agency:
    """One agency of the directory."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        audit.record_refusal(actor, Permission.AGENCY_READ, reason="not_found", resource=f"agency:{agency_id}")
        raise NotFoundError(f"no agency {agency_id!r}")
    audit.record(actor, Permission.AGENCY_READ, "allowed", resource=f"agency:{agency_id}")
    db.session.commit()
    return agency


def require_agency(agency_id: str) -> Agency:
    """The agency named, for other services; a clear error if there is none."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency {agency_id!r}")
    return agency
