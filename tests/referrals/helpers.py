"""Agencies of a small network, and a form referred between them, for the referrals tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from nrm_api.crypto import TokenError
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import public_half
from nrm_api.crypto.jws import verify_detached_by_service, verify_stored
from tests.forms.helpers import Agency, adult, agency


@dataclass
class Network:
    """A detecting NGO, the Ministry, IOM, a shelter, and an agency with no part in the case."""

    ngo: Agency
    moi: Agency
    iom: Agency
    shelter: Agency
    stranger: Agency


def network(http: FlaskClient) -> Network:
    """Five agencies, each with a signed-in system."""
    return Network(agency(http, "ngo"), agency(http, "authority"), agency(http, "international"),
                   agency(http, "ngo"), agency(http, "ngo"))


def referred(net: Network, document: dict[str, Any] | None = None) -> tuple[str, str]:
    """A form by the NGO, referred to the Ministry for identification: (form id, referral id)."""
    form = net.ngo.sdk.submit_form(document or adult())
    referral = net.ngo.sdk.refer(form["id"], net.moi.id, "identification", priority="urgent")
    return form["id"], referral["id"]


def signatures_verify(events: list[dict[str, Any]], signers: list[Agency], service_keys: list[dict[str, str]]
                      ) -> bool:
    """Whether every event's signature verifies over its body's canonical form with its signer's key."""
    keys = {signer.private_jwk["kid"]: public_half(signer.private_jwk) for signer in signers}
    service_kids = {key["kid"] for key in service_keys}
    for event in events:
        payload = canonical(event["body"])
        if event["kid"] in service_kids:
            if not verify_detached_by_service(event["signature"], payload, service_keys):
                return False
            continue
        try:
            verify_stored(event["signature"], payload, keys.get)
        except TokenError:
            return False
    return True
