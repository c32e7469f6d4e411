"""Who acts, and from where: the principal every service function is given explicitly."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The acting principal of one request or command."""

    #: ``client:ID``, ``user:NAME``, ``cli:OSUSER`` or ``anonymous``.
    subject: str
    agency: str | None = None
    role: str | None = None
    request_id: str | None = None
    address: str | None = None
    #: The ``jti`` of the access token the request carried.
    token_id: str | None = None
    #: The ``X-Request-Id`` the client sent, bounded and sanitised; ``request_id`` is always the service's own.
    client_request_id: str | None = None

    @classmethod
    def operator(cls) -> Actor:
        """The operator at the command line, named by their OS account."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(subject=f"cli:{name}", role="operator")
