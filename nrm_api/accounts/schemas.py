"""Wire shapes of sign-in."""

from __future__ import annotations

import marshmallow as ma

from ..fields import FullMatch


class TokenRequestSchema(ma.Schema):
    """Client credentials with ``private_key_jwt`` (RFC 7523), form-encoded.

    Fields are optional here so that every mistake is answered as an OAuth error.
    """

    class Meta:
        unknown = ma.EXCLUDE

    grant_type = ma.fields.String(metadata={"description": "`client_credentials`", "example": "client_credentials"})
    client_id = ma.fields.String(metadata={"description": "The client id; must equal the assertion's `iss`."})
    client_assertion_type = ma.fields.String(
        metadata={"description": "`urn:ietf:params:oauth:client-assertion-type:jwt-bearer`"}
    )
    client_assertion = ma.fields.String(
        metadata={"description": "JWT signed by a registered Ed25519 key (alg Ed25519 or EdDSA): iss = sub = "
                  "client id, aud = the issuer or the token endpoint's URL (RFC 7523; from the OAuth metadata), "
                  "jti, iat, exp at most 5 minutes ahead."}
    )


class LoginSchema(ma.Schema):
    """A person's credentials."""

    class Meta:
        unknown = ma.RAISE

    username = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    password = ma.fields.String(required=True, validate=ma.validate.Length(1, 1024), load_only=True)
    otp = ma.fields.String(
        load_default=None, validate=FullMatch(r"^[0-9]{6,8}$"),
        metadata={"description": "The TOTP code; required once the account has enrolled TOTP."},
    )
    device_token = ma.fields.String(
        load_default=None, validate=ma.validate.Length(1, 200),
        metadata={"description": "The `device_token` this device's last sign-in returned: a known device is "
                  "throttled on its own, so failures elsewhere cannot shut it out."},
    )


class TokenSchema(ma.Schema):
    """An access token (RFC 6749 §5.1)."""

    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds; at most 600."})


class LoginTokenSchema(TokenSchema):
    """An access token for a person, and the token that makes this device known next time."""

    device_token = ma.fields.String(
        required=True, metadata={"description": "Keep it and send it with the next sign-in from this device."})


class OAuthErrorSchema(ma.Schema):
    """An OAuth 2.0 error (RFC 6749 §5.2)."""

    error = ma.fields.String(required=True)
    error_description = ma.fields.String()
