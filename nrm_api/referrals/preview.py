"""What a referral would share, before it is sent: whether consent covers it, and what the recipient would see.

The same rules the referral and the reads apply (``forms.access``, ``forms.disclosure``), asked in
advance so a person sees the answer before signing; nothing is written but the audit of the read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..extensions import db
from ..forms.access import Consent
from ..forms.disclosure import visible_classes, withheld_paths
from ..forms.models import FormVersion
from ..forms.service import accessible
from ..permissions import Permission


@dataclass(frozen=True)
class Offer:
    """What referring the form to one agency for one purpose would do."""

    agency: str
    #: The person's consent covers it (else only a supervisor may send it, with a reason code).
    consented: bool
    #: The sensitivity classes the recipient would see, and the sealed fields it would not.
    classes: frozenset[str]
    withheld: tuple[str, ...]


def offers(actor: Actor, form_id: str, purpose: str, services: Iterable[str], agency_ids: Iterable[str]
           ) -> dict[str, Offer]:
    """For each agency, what a referral of the form for ``purpose`` and ``services`` would share."""
    found = accessible(actor, form_id, Permission.REFERRAL_CREATE)
    form, wanted = found.form, sorted(set(services))
    version = db.session.get(FormVersion, (form.id, form.version))
    consent = Consent(form, version) if version is not None else None
    today, shown = utcnow().date(), {}
    for agency_id in agency_ids:
        agency = db.session.get(Agency, agency_id)
        if agency is None or agency.id == actor.agency:
            continue
        classes = visible_classes(is_author=False, kind=agency.kind, purpose=purpose, services=wanted)
        if not found.owner:
            classes &= found.classes  # never more than the sender itself sees
        covered = consent is not None and consent.covers(purpose, agency, today)
        shown[agency.id] = Offer(agency.id, covered, classes, tuple(withheld_paths(classes)))
    audit.record(actor, Permission.FORM_READ, "allowed", resource=f"form:{form.id}", fields=["consent.*"],
                 reason="referral_preview")
    db.session.commit()
    return shown
