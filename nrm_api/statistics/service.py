"""The statistics' use case: read the public, coded fields of the forms and the referrals, count, withhold.

Nothing is decrypted: every dimension is a field the form keeps in clear (its ``statistics``
summary, the types and countries of exploitation, who detected the person), or a referral's own
columns. A form is counted when the person consented to statistics and has not withdrawn that
consent (a withdrawal is recorded on the form, not in its consent section), or is a child (no
consent gate, as for referrals); a shredded form no more.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actor import Actor
from ..database import UTCDateTime, utcnow
from ..extensions import db, settings
from ..forms.models import Form, FormDecision, FormVersion
from ..permissions import Permission
from ..referrals.models import Referral, ReferralEvent
from .tables import FormFacts, ReferralFacts, build

#: Agency kinds that see the whole network's statistics (the Ministry, IOM); auditors do too.
NETWORK_KINDS = frozenset({"authority", "international"})
#: The fields the statistics read, for the audit event: coded, public, never a person's.
FIELDS_READ = ("statistics.*", "exploitation.types_of_exploitation", "exploitation.locations.type",
               "exploitation.locations.country", "screening.detected_by", "consent.purposes.statistics",
               "decision.trafficking_status")


def network_wide(actor: Actor) -> bool:
    """Whether the caller sees the network's statistics, not only its own agency's."""
    if actor.role == "auditor":
        return True
    agency = db.session.get(Agency, actor.agency) if actor.agency else None
    return agency is not None and agency.kind in NETWORK_KINDS


def statistics(actor: Actor) -> dict[str, Any]:
    """The network's (or the caller's agency's) counts, every small one withheld; the read audited."""
    k, wide = settings().statistics_k, network_wide(actor)
    scope = None if wide else str(actor.agency)
    forms = _forms(scope)
    tables = build(forms, _referrals(scope), k)
    audit.record(actor, Permission.STATISTICS_READ, "allowed", resource=f"statistics:{'network' if wide else 'agency'}",
                 fields=FIELDS_READ)
    db.session.commit()
    return {"k": k, "generated_at": utcnow(), "scope": "network" if wide else "agency",
            "agency": None if wide else scope, "tables": tables}


def counted(is_child: bool, public: dict[str, Any], withdrawn: bool) -> bool:
    """Whether a form goes into the statistics: consent to them, not withdrawn, or a child."""
    return is_child or (not withdrawn and bool(((public.get("consent") or {}).get("purposes") or {}).get("statistics")))


def _forms(scope: str | None) -> list[FormFacts]:
    query = (select(Form.id, Form.is_child, Form.summary, FormVersion.public, Agency.kind, Form.consent_withdrawn_at)
             .join(FormVersion, (FormVersion.form_id == Form.id) & (FormVersion.version == Form.version))
             .join(Agency, Agency.id == Form.agency_id).where(Form.shredded_at.is_(None)))
    if scope is not None:
        query = query.where(or_(Form.agency_id == scope, Form.lead_agency_id == scope))
    decisions = _decisions()
    return [_form_facts(row.summary, row.public, row.kind, decisions.get(row.id))
            for row in db.session.execute(query)
            if counted(row.is_child, row.public, row.consent_withdrawn_at is not None)]


def _decisions() -> dict[str, str]:
    """Each form's latest identification decision."""
    rows = db.session.execute(select(FormDecision.form_id, FormDecision.trafficking_status).order_by(FormDecision.id))
    return {row.form_id: row.trafficking_status for row in rows}


def _form_facts(summary: dict[str, Any], public: dict[str, Any], kind: str, decision: str | None) -> FormFacts:
    exploitation = public.get("exploitation") or {}
    countries = {place["country"] for place in exploitation.get("locations") or ()
                 if place.get("type") == "Exploitation" and place.get("country")}
    return FormFacts(year=int(summary["year"]), sex=summary["sex"], age_band=summary["age_band"],
                     citizenship=summary.get("citizenship"),
                     types_of_exploitation=frozenset(exploitation.get("types_of_exploitation") or ()),
                     countries_of_exploitation=frozenset(countries),
                     detected_by=(public.get("screening") or {}).get("detected_by", ""), agency_kind=kind,
                     decision=decision)


def _referrals(scope: str | None) -> list[ReferralFacts]:
    accepted = (select(ReferralEvent.referral_id, func.min(ReferralEvent.created_at, type_=UTCDateTime).label("at"))
                .where(ReferralEvent.status == "accepted").group_by(ReferralEvent.referral_id).subquery())
    query = (select(Referral.purpose, Referral.status, Referral.priority, Referral.services, Referral.created_at,
                    accepted.c.at, Form.is_child, FormVersion.public, Form.consent_withdrawn_at)
             .join(Form, Form.id == Referral.form_id)
             .join(FormVersion, (FormVersion.form_id == Form.id) & (FormVersion.version == Form.version))
             .outerjoin(accepted, accepted.c.referral_id == Referral.id).where(Form.shredded_at.is_(None)))
    if scope is not None:
        query = query.where(or_(Referral.from_agency == scope, Referral.to_agency == scope))
    return [ReferralFacts(purpose=row.purpose, status=row.status, priority=row.priority,
                          services=frozenset(row.services or ()), created_at=row.created_at, accepted_at=row.at)
            for row in db.session.execute(query)
            if counted(row.is_child, row.public, row.consent_withdrawn_at is not None)]

