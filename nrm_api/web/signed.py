"""A page's write as an API operation: signed for the person with their agency's hosted key, then made.

``form_writes`` and ``referral_writes`` name each operation (method, the API's path, the body) and the
service function that makes it; this signs once for that operation (``accounts.hosted.sign_for_user``)
and hands the signature and the operation's facts to the service, which verifies them as it verifies
an agency system's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..accounts.hosted import sign_for_user
from ..audit.actor import Actor
from ..writes import RequestFacts, Written

#: ``make(signature, facts)``: the service call, given what the helper signed.
Make = Callable[[str, RequestFacts], Written]


def signed_write(actor: Actor, method: str, path: str, body: dict[str, Any], make: Make,
                 idempotency_key: str | None = None) -> Written:
    """Sign ``body`` for ``actor`` as the API's ``method path`` and make the write with ``make``."""
    facts = RequestFacts(method, path, idempotency_key)
    return make(sign_for_user(actor, facts.method, facts.path, body), facts)
