"""``nrm-api client``, ``user``, ``tokens`` and ``keys hosted``: agency systems, people, hosted keys."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..cli_refusals import Commands
from ..extensions import db, keyring
from . import admin, hosted
from .models import USER_ROLES, Client

client_cli = Commands("client", help="Agency systems (OAuth clients) and their keys.")
user_cli = Commands("user", help="People: caseworkers, administrators, auditors.")
tokens_cli = Commands("tokens", help="Access tokens already issued.")
hosted_cli = Commands("hosted", help="The agencies' hosted signing keys: they sign what people write in the web form.")


def _read_jwks(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise click.ClickException(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise click.ClickException(f"{path} is not JSON: expected a JWK or a JWK Set") from None


@client_cli.command("add", action=AuditAction.CLIENT_CREATE)
@click.argument("agency_id")
@click.argument("client_id")
@click.option("--jwks", "jwks_path", required=True, type=click.Path(dir_okay=False),
              help="A public JWK or JWK Set file (Ed25519 OKP keys only).")
def client_add(agency_id: str, client_id: str, jwks_path: str) -> None:
    """Register agency system CLIENT_ID for AGENCY_ID with its public key(s)."""
    client = admin.add_client(Actor.operator(), agency_id, client_id, _read_jwks(jwks_path))
    click.echo(f"client {client.id} added for agency {agency_id} with key(s): {', '.join(k.kid for k in client.keys)}")


@client_cli.command("add-key", action=AuditAction.CLIENT_KEY_ADD)
@click.argument("client_id")
@click.option("--jwks", "jwks_path", required=True, type=click.Path(dir_okay=False),
              help="A public JWK or JWK Set file (Ed25519 OKP keys only).")
@click.option("--not-after", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
              help="When the key stops being valid (UTC if no offset).")
def client_add_key(client_id: str, jwks_path: str, not_after: datetime | None) -> None:
    """Add public key(s) to agency system CLIENT_ID."""
    from datetime import UTC

    until = None if not_after is None else (not_after if not_after.tzinfo else not_after.replace(tzinfo=UTC))
    keys = admin.add_client_key(Actor.operator(), client_id, _read_jwks(jwks_path), until)
    click.echo(f"key(s) added to {client_id}: {', '.join(key.kid for key in keys)}")


@client_cli.command("revoke-key", action=AuditAction.CLIENT_KEY_REVOKE)
@click.argument("client_id")
@click.argument("kid")
def client_revoke_key(client_id: str, kid: str) -> None:
    """Revoke key KID of CLIENT_ID now (it is kept to verify old signatures)."""
    admin.revoke_client_key(Actor.operator(), client_id, kid)
    click.echo(f"key {kid} of {client_id} revoked")


@user_cli.command("add", action=AuditAction.USER_CREATE)
@click.argument("username")
@click.option("--agency", "agency_id", required=True)
@click.option("--role", required=True, type=click.Choice(USER_ROLES))
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--totp", is_flag=True, help="Enrol TOTP and print its otpauth:// URI once.")
def user_add(username: str, agency_id: str, role: str, password_stdin: bool, totp: bool) -> None:
    """Add person USERNAME to an agency with a role."""
    if not password_stdin:
        raise click.ClickException("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    _, uri = admin.add_user(Actor.operator(), username, agency_id=agency_id, role=role,
                            password=password, totp=totp)
    click.echo(f"user {username} ({role}) added to {agency_id}")
    if uri:
        click.echo(f"TOTP enrolment URI (shown once): {uri}")


@user_cli.command("disable", action=AuditAction.USER_DISABLE)
@click.argument("username")
def user_disable(username: str) -> None:
    """Stop USERNAME signing in; their tokens stop working at once."""
    admin.disable_user(Actor.operator(), username)
    click.echo(f"user {username} disabled; their tokens no longer work")


@client_cli.command("disable", action=AuditAction.CLIENT_DISABLE)
@click.argument("client_id")
def client_disable(client_id: str) -> None:
    """Stop agency system CLIENT_ID obtaining tokens; its tokens stop working at once."""
    admin.disable_client(Actor.operator(), client_id)
    click.echo(f"client {client_id} disabled; its tokens no longer work")


@tokens_cli.command("revoke", action=AuditAction.TOKENS_REVOKE)
@click.option("--principal", required=True,
              help="user:USERNAME or client:CLIENT_ID (as tokens and the audit log name it).")
def tokens_revoke(principal: str) -> None:
    """Revoke every token issued so far to a principal (it may sign in again)."""
    admin.revoke_tokens(Actor.operator(), principal)
    click.echo(f"every token issued to {principal} so far is revoked")


@hosted_cli.command("rotate", action=AuditAction.HOSTED_KEY_ROTATE)
@click.option("--agency", "agency_id", required=True, help="The agency whose hosted key to replace (or create).")
def hosted_rotate(agency_id: str) -> None:
    """Give an agency a new hosted signing key; revoke the old one and destroy its private half."""
    kid = hosted.rotate(Actor.operator(), agency_id)
    click.echo(f"agency {agency_id} now signs web form writes with hosted key {kid}; older hosted keys are revoked"
               " and their private halves destroyed (their public keys stay, to verify what they signed)")


@hosted_cli.command("list")
@click.option("--agency", "agency_id", required=True, help="The agency whose hosted keys to list.")
def hosted_list(agency_id: str) -> None:
    """List an agency's hosted keys, newest first: kid, created, revoked, whether the keyring holds it."""
    client = db.session.get(Client, hosted.client_id_of(agency_id))
    if client is None or not client.keys:
        raise click.ClickException(f"agency {agency_id!r} has no hosted key: `nrm-api keys hosted rotate --agency "
                                   f"{agency_id}` creates one")
    held = set(keyring().hosted.held(agency_id))
    for key in reversed(client.keys):
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        state = "private key held" if key.kid in held else "public key only"
        click.echo(f"{key.kid}  created {key.created_at.isoformat(timespec='seconds')}  revoked {revoked}  {state}")
