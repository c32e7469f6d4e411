"""Documents and agencies for the forms tests, and the SDK talking to the app through Flask's client."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask.testing import FlaskClient

from nrm_api.audit.actor import Actor
from nrm_api.client import NrmClient
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.forms import service
from nrm_api.writes import RequestFacts, Written
from tests.conftest import BASE_URL, create_agency, create_client

FORMS = "/api/v1/forms"

CANARIES = {
    "person.first_name": "Zxqcanaryfirst", "person.second_name": "Zxqcanarysecond",
    "person.first_name_cyrillic": "Жзщканарейка", "person.identity_number": "ZXQ-CANARY-0001",
    "person.mailing_address": "Zxq canary street 7", "person.mobile_phone": "+375290000777",
    "person.email": "zxq.canary@example.org", "account.narrative": "Zxq canary narrative",
    "account.health": "Zxq canary health", "perpetrators": "Zxq canary perpetrator",
    "child.legal_representative": "Zxq canary guardian",
}


def adult(**sections: Any) -> dict[str, Any]:
    """A complete form about an adult who consented to everything."""
    document: dict[str, Any] = {
        "schema_version": "1",
        "person": {"first_name": "Olga", "second_name": "Ivanova", "first_name_cyrillic": "Ольга",
                   "second_name_cyrillic": "Иванова", "birthdate": "1999-02-03", "gender": "Feminine",
                   "citizenship": ["BY"], "identity_number": "MP1234567", "mobile_phone": "+375291234567"},
        "exploitation": {"types_of_exploitation": ["ForcedLabour", "ForcedCriminality"],
                         "forced_labour_industries": ["F_Construction"], "control_methods": ["WithholdsDocuments"],
                         "locations": [{"type": "Recruitment", "country": "BY", "oblast": "Gomel"},
                                       {"type": "Exploitation", "country": "RU"}]},
        "account": {"narrative": "I was promised work on a building site.", "needs": "A safe place to stay."},
        "perpetrators": [{"role": "RecruiterOrIntermediary", "kind": "Individual", "nationality": "BY",
                          "description": "Met through an online advert."}],
        "consent": {"purposes": {"identification": True, "assistance": True, "data_sharing": True,
                                 "statistics": True},
                    "recipients": ["kind:authority", "kind:international", "kind:ngo"],
                    "obtained_at": "2026-11-20T10:00:00+03:00", "obtained_by": "caseworker", "method": "written",
                    "language": "ru"},
        "screening": {"detected_by": "NGO", "detected_on": "2026-11-20", "language": "ru",
                      "interpreter_used": False},
        "statistics": {"age_band": "27--29", "sex": "Feminine", "citizenship": "BY", "year": 2026},
    }
    document.update(copy.deepcopy(sections))
    return document


def child() -> dict[str, Any]:
    """A form about a child, consent to nothing, with a legal representative."""
    document = adult(child={"is_minor": True, "legal_representative": {
        "name": "Anna Ivanova", "relation": "mother", "contact": "+375297654321", "informed": True}})
    # fifteen this year, whenever the suite runs: a child's age follows the birthdate
    document["person"]["birthdate"] = f"{date.today().year - 15}-01-01"
    document["consent"]["purposes"] = {"identification": False, "assistance": False, "data_sharing": False,
                                       "statistics": False}
    document["statistics"]["age_band"] = "9--17"
    return document


def anonymous() -> dict[str, Any]:
    """An adult who did not consent to identification: a notification with no identifying field."""
    document = adult()
    del document["person"]
    document["consent"]["purposes"]["identification"] = False
    return document


def canary_document() -> dict[str, Any]:
    """A form whose every sealed field holds a unique canary value."""
    document = child()
    person = document["person"]
    for path, value in CANARIES.items():
        section, _, field = path.partition(".")
        if path == "perpetrators":
            document["perpetrators"][0]["description"] = value
        elif path == "child.legal_representative":
            document["child"]["legal_representative"]["name"] = value
        elif section == "person":
            person[field] = value
        else:
            document[section][field] = value
    return document


def flask_transport(http: FlaskClient) -> Any:
    """Let the SDK speak through Flask's test client (the same app, the same HTTP handling)."""

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None
             ) -> tuple[int, Mapping[str, str], bytes]:
        response = http.open(url.replace(BASE_URL, ""), method=method, headers=dict(headers), data=body)
        return response.status_code, dict(response.headers), response.get_data()

    return send


@dataclass
class Agency:
    """An agency with its system, signed in through the SDK."""

    id: str
    client_id: str
    private_jwk: dict[str, str]
    sdk: NrmClient


def agency(http: FlaskClient, kind: str = "ngo") -> Agency:
    """A new agency of ``kind`` with one system and an SDK session for it."""
    agency_id = create_agency(kind=kind)
    client_id, private = create_client(agency_id)
    return Agency(agency_id, client_id, private, NrmClient(BASE_URL, client_id, private, flask_transport(http)))


# --- calling the services directly, with no request: the facts a door would build ----------------

def system(kind: str = "ngo") -> tuple[Actor, dict[str, str]]:
    """An agency's system as the API would authenticate it, and its private key."""
    agency_id = create_agency(kind=kind)
    client_id, private = create_client(agency_id)
    return Actor(f"client:{client_id}", agency_id, "system"), private


def receipt_claims(receipt: str) -> dict[str, Any]:
    """The claims of a receipt (its signature is checked by the receipt tests)."""
    payload = receipt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def signed_write(private: dict[str, str], body: dict[str, Any], method: str, path: str,
                 key: str | None = None) -> tuple[dict[str, Any], str, RequestFacts]:
    """A body, its signature for the API operation ``method path``, and the facts it is bound to."""
    facts = RequestFacts(method, path, key)
    return body, sign_detached(canonical(body), private, method, path), facts


def submitted(actor: Actor, private: dict[str, str], key: str | None = None) -> Written:
    """A form submitted by ``actor`` through the service, as ``POST /api/v1/forms`` would."""
    body, signature, facts = signed_write(private, adult(), "POST", FORMS, key or str(uuid.uuid4()))
    return service.submit(actor, body, signature, facts)
