"""Tables of principals, their keys and the token bookkeeping."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow

ROLES = ("system", "caseworker", "supervisor", "agency_admin", "auditor", "network_admin")
USER_ROLES = ROLES[1:]


class Client(Base):
    """An agency system that calls the API with its own keys (OAuth client credentials)."""

    __tablename__ = "clients"

    #: The OAuth ``client_id``.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the client may no longer obtain tokens; its tokens stop working at once.
    disabled_at: Mapped[datetime | None]
    #: Raised to revoke every token issued before; tokens carry the value they were issued under.
    token_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    keys: Mapped[list[ClientKey]] = relationship(back_populates="client", order_by="ClientKey.id")


class ClientKey(Base):
    """A public Ed25519 key of a client. Kept for ever, so old signatures stay verifiable."""

    __tablename__ = "client_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    #: Key id, unique across the network so a signature names exactly one key.
    kid: Mapped[str] = mapped_column(String(200), unique=True)
    #: The public JWK (``kty``, ``crv``, ``x``, ``kid``); never a private member.
    jwk: Mapped[dict[str, str]]
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    not_after: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[Client] = relationship(back_populates="keys")

    def usable_at(self, moment: datetime) -> bool:
        """Whether the key may authenticate at ``moment``."""
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        if self.not_after is not None and moment >= self.not_after:
            return False
        return self.not_before <= moment


class User(Base):
    """A person: caseworker, agency administrator, auditor or network administrator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('caseworker', 'supervisor', 'agency_admin', 'auditor', 'network_admin')",
                        name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    #: argon2id hash.
    password_hash: Mapped[str] = mapped_column(String(200))
    #: TOTP seed sealed by the keyring (AES-GCM bound to the username); null until enrolled.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The last TOTP time step accepted: a code is good once.
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the person may no longer sign in; their tokens stop working at once.
    disabled_at: Mapped[datetime | None]
    #: Raised to revoke every token (and device token) issued before.
    token_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class UsedAssertion(Base):
    """A client assertion's ``jti`` seen before it expires: a second use is a replay."""

    __tablename__ = "used_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UsedSignature(Base):
    """A write signature's ``jti`` while its ``iat`` is accepted: one signature changes one record, once."""

    __tablename__ = "used_signatures"

    kid: Mapped[str] = mapped_column(String(200), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: SHA-256 of (principal, Idempotency-Key, method, path, body) when the request had a key: its retry may reuse it.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RevokedToken(Base):
    """An access token revoked before it expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """One sign-in window (account, account+address, address or device): its recent failures.

    ``key`` is a hash, so no typed username or address is stored; ``stamps`` holds at most the
    window's limit of ``"<unix time> <ticket>"`` entries. Used where no Redis is configured.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    stamps: Mapped[list[str]]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class WebSession(Base):
    """A person signed in with a browser (the web form). The cookie holds a secret; its SHA-256 is the id.

    Ending it (sign-out) is final: the row says so, whatever copies of the cookie exist. It is live
    while its user's token version is the one it was opened under, for at most 15 idle minutes and
    8 hours in all (``accounts.sessions``).
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[datetime | None]
    #: A TOTP secret being enrolled, sealed by the keyring; cleared once the person confirms a code.
    totp_pending: Mapped[bytes | None] = mapped_column(LargeBinary)
    user: Mapped[User] = relationship()


__all__ = ["ROLES", "USER_ROLES", "Client", "ClientKey", "LoginThrottle", "RevokedToken", "UsedAssertion",
           "UsedSignature", "User", "WebSession"]
