"""A small network on a served instance for the referral pages' tests: agencies, their people, a form.

Forms are submitted by the detecting NGO's own system through the API (the pages under test are
the referral pages); everything after that goes through pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from nrm_api.agencies import directory
from nrm_api.audit.actor import Actor
from nrm_api.client import NrmClient
from nrm_api.client.sdk import urllib_transport
from nrm_api.database import utcnow
from nrm_api.extensions import db
from nrm_api.referrals.models import Referral, ReferralEvent
from tests.conftest import create_agency, create_client
from tests.forms.helpers import adult
from tests.web.support import WebServer


@dataclass
class Network:
    """The detecting NGO (a system and a caseworker and supervisor), the Ministry, a shelter, a stranger."""

    web: WebServer
    ngo: str
    moi: str
    shelter: str
    stranger: str
    system: NrmClient
    ngo_caseworker: dict[str, Any]
    ngo_supervisor: dict[str, Any]
    moi_caseworker: dict[str, Any]
    shelter_caseworker: dict[str, Any]
    stranger_caseworker: dict[str, Any]

    def form(self, **sections: Any) -> str:
        """A new form by the NGO's system: its id."""
        return str(self.system.submit_form(adult(**sections))["id"])

    def referral(self, form_id: str, to: str, purpose: str = "identification", **extra: Any) -> str:
        """A referral by the NGO's system through the API: its id."""
        return str(self.system.refer(form_id, to, purpose, **extra)["id"])

    def overdue(self, referral_id: str) -> None:
        """Make a referral past its time (as if sent long ago)."""
        with self.web.with_app():
            db.session.execute(update(Referral).where(Referral.id == referral_id)
                               .values(due_at=utcnow() - timedelta(hours=3)))
            db.session.commit()

    def tamper(self, referral_id: str, sequence: int) -> None:
        """Change one stored signature of a referral's history in the database (one bit of it)."""
        with self.web.with_app():
            event = db.session.scalar(select(ReferralEvent).where(ReferralEvent.referral_id == referral_id,
                                                                  ReferralEvent.sequence == sequence))
            assert event is not None
            head, _, signature = event.signature.split(".")
            flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
            event.signature = f"{head}..{flipped}"
            db.session.commit()


def network(web: WebServer) -> Network:
    """Four agencies and their people on ``web``'s instance; the shelter has beds free."""
    with web.with_app():
        ngo, moi, shelter, stranger = (create_agency(kind=kind, regions=("Minsk", "MinskCity"))
                                       for kind in ("ngo", "authority", "ngo", "ngo"))
        directory.set_services(Actor.operator(), shelter, [
            {"service": "accommodation", "regions": [], "age_bands": [], "sexes": [], "capacity": 10,
             "vacancies": 3}, {"service": "healthcare", "regions": [], "age_bands": [], "sexes": []}])
        client_id, private = create_client(ngo)
    system = NrmClient(web.base, client_id, private, urllib_transport)
    return Network(web, ngo, moi, shelter, stranger, system,
                   web.add_user("caseworker", agency=ngo), web.add_user("supervisor", agency=ngo),
                   web.add_user("caseworker", agency=moi), web.add_user("caseworker", agency=shelter),
                   web.add_user("caseworker", agency=stranger))
