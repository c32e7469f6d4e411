"""Need-to-know (architecture §6): who may read a form, and which of its sensitivity classes.

It lives with the forms, below both their use cases and the referrals' (which ask it whether a
form may be referred on): it reads the referrals' table and status rules, never their use cases.

An agency reads a form if it wrote it or leads the case, or holds a live referral for it that the
person's consent covers (or that a supervisor sent over consent, or that is about a child) while
consent stands. What it sees is the disclosure policy for its kind, the referral's purpose and
services, never more than the sender itself saw when it referred the form on; several live
referrals add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from ..agencies.models import Agency
from ..extensions import db
from ..referrals.models import Referral, Transfer
from ..referrals.rules import OPEN
from . import sealing
from .disclosure import visible_classes
from .models import Form, FormKey, FormVersion
from .rules import consented, is_child, merge


@dataclass(frozen=True)
class Access:
    """What the caller's agency may do with one form."""

    form: Form
    #: Sensitivity classes it may see (empty: it may not read the form at all).
    classes: frozenset[str]
    #: It wrote the form or leads the case.
    owner: bool


class Consent:
    """The consent gate for one version of a form: consent recorded, or a child on the day.

    Whether the person is a child is worked out again at every check, from the birthdate (or the
    age dispute), never taken from a flag stored when the form was written: a person who has
    turned 18 since needs consent. The birthdate is opened in memory for the rule, never shown,
    and only when consent alone does not decide.
    """

    def __init__(self, form: Form, version: FormVersion) -> None:
        self.form, self.version = form, version

    def covers(self, purpose: str, agency: Agency, today: date) -> bool:
        """Whether the person's data may go to ``agency`` for ``purpose`` on ``today``."""
        return consented(self.version.public, purpose, agency.id, agency.kind) or is_child(self._facts, today)

    @cached_property
    def _facts(self) -> dict[str, Any]:
        """The version's public part with its birthdate opened."""
        version = self.version
        if "person.birthdate" not in version.sealed:
            return version.public
        try:
            dek = sealing.open_key(db.session.get(FormKey, self.form.id))
        except sealing.ShreddedError:
            return version.public
        return merge(version.public, sealing.open_paths(self.form, version, dek, ["person.birthdate"]))


def live_referrals(form_id: str, agency_id: str) -> list[Referral]:
    """The referrals of a form to an agency that are not final."""
    return list(db.session.scalars(select(Referral).where(
        Referral.form_id == form_id, Referral.to_agency == agency_id, Referral.status.in_(OPEN))))


def knows_of(form_id: str, agency_id: str) -> bool:
    """Whether the agency was ever sent the form (a referral or a transfer, in any state)."""
    referral = db.session.scalar(select(Referral.id).where(Referral.form_id == form_id,
                                                            Referral.to_agency == agency_id).limit(1))
    transfer = db.session.scalar(select(Transfer.id).where(Transfer.form_id == form_id,
                                                            Transfer.to_agency == agency_id).limit(1))
    return referral is not None or transfer is not None


def visible_forms(agency_id: str) -> ColumnElement[bool]:
    """A filter on ``Form``: the forms an agency wrote, leads, or holds a live referral for."""
    referred = select(Referral.form_id).where(Referral.to_agency == agency_id, Referral.status.in_(OPEN))
    return or_(Form.agency_id == agency_id, Form.lead_agency_id == agency_id,
               and_(Form.id.in_(referred), Form.status == "active"))


def of(form: Form, agency_id: str | None, today: date) -> Access:
    """The caller's agency's access to ``form``."""
    if agency_id is not None and agency_id in (form.agency_id, form.lead_agency_id):
        return Access(form, visible_classes(is_author=True), owner=True)
    if agency_id is None or form.status != "active":
        return Access(form, frozenset(), owner=False)
    referrals = live_referrals(form.id, agency_id)
    if not referrals:
        return Access(form, frozenset(), owner=False)
    agency = db.session.get(Agency, agency_id)
    version = db.session.get(FormVersion, (form.id, form.version))
    if agency is None or version is None:  # pragma: no cover - foreign keys keep both
        return Access(form, frozenset(), owner=False)
    classes: frozenset[str] = frozenset()
    consent = Consent(form, version)
    for referral in referrals:
        if referral.consent_override or consent.covers(referral.purpose, agency, today):
            allowed = visible_classes(is_author=False, kind=agency.kind, purpose=referral.purpose,
                                      services=referral.services)
            if referral.disclosure_cap is not None:
                allowed &= frozenset(referral.disclosure_cap)
            classes |= allowed
    return Access(form, classes, owner=False)
