"""The Python SDK for agency integrators: sign in, sign and submit forms, verify what the service signs.

Usage::

    from nrm_api.client import NrmClient
    nrm = NrmClient("https://nrm.example.by", "shelter-minsk-system", private_jwk)
    written = nrm.submit_form(document)          # signs, sends, verifies the receipt
    form = nrm.read_form(written["id"])           # verifies the service's signature on the answer
    # an auditor, holding the proof of the receipt's event (GET /audit/events/{position}/proof):
    position = verify_in_log(written["receipt"], proof, jwks)
"""

from .receipts import ReceiptProofError, verify_in_log
from .sdk import NrmClient, NrmError, Transport, urllib_transport

__all__ = ["NrmClient", "NrmError", "ReceiptProofError", "Transport", "urllib_transport", "verify_in_log"]
