"""``nrm-api demo``: a demo network on the embedded defaults, for a first look.

``setup`` writes everything under ``instance/`` once: the secrets (``demo.env``), the keyring,
the SQLite database, and a seeded network of four agencies with their people and systems, whose
private keys land in ``instance/demo/``. Run again, it changes nothing and prints the accounts.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import click

from .audit.actions import AuditAction
from .audit.actor import Actor
from .cli_refusals import Commands


def _demo_settings() -> None:
    """Run from a shell with no settings (after ``make run``), the demo's commands use ``instance/demo.env``."""
    from flask.cli import ScriptInfo

    from .cli_app import command_line_app

    info = click.get_current_context().find_object(ScriptInfo)
    own_cli = info is not None and info.create_app is command_line_app  # not a test's app, nor one already configured
    if own_cli and not os.environ.get("NRM_SECRET_KEY") and (_instance() / "demo.env").exists():
        ensure_environment(_instance())


demo_cli = Commands("demo", help="The demo network (embedded SQLite, local keyring).", callback=_demo_settings)

AGENCIES: list[dict[str, Any]] = [
    {"agency_id": "moi", "kind": "authority", "name_en": "Ministry of the Interior of the Republic of Belarus",
     "name_ru": "Министерство внутренних дел Республики Беларусь",
     "name_be": "Міністэрства ўнутраных спраў Рэспублікі Беларусь",
     "regions": ["Brest", "Vitebsk", "Gomel", "Grodno", "Minsk", "Mogilev", "MinskCity"]},
    {"agency_id": "iom", "kind": "international", "name_en": "IOM Belarus",
     "name_ru": "Представительство МОМ в Беларуси", "name_be": "Прадстаўніцтва МАМ у Беларусі",
     "regions": ["Brest", "Vitebsk", "Gomel", "Grodno", "Minsk", "Mogilev", "MinskCity"]},
    {"agency_id": "shelter-minsk", "kind": "ngo", "name_en": "Minsk shelter (demo NGO)",
     "name_ru": "Приют в Минске (демо НГО)", "name_be": "Прытулак у Мінску (дэма НДА)",
     "regions": ["Minsk", "MinskCity"]},
    {"agency_id": "legal-brest", "kind": "ngo", "name_en": "Brest legal aid (demo NGO)",
     "name_ru": "Юридическая помощь в Бресте (демо НГО)", "name_be": "Юрыдычная дапамога ў Брэсце (дэма НДА)",
     "regions": ["Brest"]},
]

#: What the demo agencies publish in the directory.
SERVICES: dict[str, list[dict[str, Any]]] = {
    "iom": [{"service": "airport_reception"}, {"service": "reintegration_grant"}, {"service": "escort"}],
    "shelter-minsk": [{"service": "accommodation", "capacity": 12, "vacancies": 4},
                      {"service": "psychological_counselling"}, {"service": "healthcare"}],
    "legal-brest": [{"service": "legal_aid"}],
}


def _instance() -> Path:
    return Path(os.environ.get("NRM_INSTANCE_PATH", "instance")).resolve()


def _private_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def ensure_environment(instance: Path) -> dict[str, str]:
    """Write ``demo.env`` (secret key, keyring, database) once and put it in ``os.environ``."""
    env_file = instance / "demo.env"
    if not env_file.exists():
        values = {
            "NRM_SECRET_KEY": secrets.token_urlsafe(48),
            "NRM_KEYRING": str(instance / "keyring.json"),
            "NRM_DATABASE_URL": f"sqlite:///{instance / 'nrm.db'}",
            "NRM_BASE_URL": "http://127.0.0.1:8000",
        }
        _private_file(env_file, "".join(f"{k}={v}\n" for k, v in values.items()))
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    os.environ.update(values)
    return values


@demo_cli.command("setup", with_appcontext=False)
def setup() -> None:
    """Create the demo's secrets, keyring, database and network, once; print how to sign in."""
    from . import create_app
    from .crypto.keyring import Keyring
    from .migrate import upgrade
    from .worker import ONE_SHOT

    instance = _instance()
    values = ensure_environment(instance)
    if not Path(values["NRM_KEYRING"]).exists():
        Keyring.create(values["NRM_KEYRING"])
    upgrade(values["NRM_DATABASE_URL"])
    app = create_app(ONE_SHOT)
    with app.app_context():
        accounts = seed(instance / "demo")
    _print_accounts(accounts, instance / "demo")


def seed(folder: Path) -> dict[str, Any]:
    """Seed the network once; return the accounts (read back from ``accounts.json`` later)."""
    from .accounts import admin, hosted
    from .agencies import directory
    from .agencies import service as agencies
    from .agencies.models import Agency
    from .crypto.jose import generate_private_jwk, public_half
    from .extensions import db

    record = folder / "accounts.json"
    if db.session.get(Agency, "moi") is not None and record.exists():
        loaded: dict[str, Any] = json.loads(record.read_text())
        return loaded
    actor = Actor.operator()
    accounts: dict[str, Any] = {"users": [], "clients": []}
    for spec in AGENCIES:
        agencies.add_agency(actor, **spec)
        agency = spec["agency_id"]
        directory.set_services(actor, agency, [{"regions": [], "age_bands": [], "sexes": [], **offered}
                                               for offered in SERVICES.get(agency, [])])
        roles = ["caseworker", "supervisor", "agency_admin"] + (["auditor", "network_admin"] if agency == "moi" else [])
        for role in roles:
            username = f"{agency}-{role.replace('_', '-')}"
            password = secrets.token_urlsafe(12)
            admin.add_user(actor, username, agency_id=agency, role=role, password=password)
            accounts["users"].append({"username": username, "password": password, "agency": agency, "role": role})
        private = generate_private_jwk()
        client_id = f"{agency}-system"
        admin.add_client(actor, agency, client_id, public_half(private))
        _private_file(folder / f"{client_id}.jwk.json", json.dumps(private, indent=2))
        accounts["clients"].append({"client_id": client_id, "agency": agency,
                                    "private_jwk": str(folder / f"{client_id}.jwk.json")})
        hosted.rotate(actor, agency)  # the key that signs what the agency's people write in the web form
    _private_file(record, json.dumps(accounts, indent=2))
    return accounts


def _print_accounts(accounts: dict[str, Any], folder: Path) -> None:
    click.echo("\nnrm-api demo network — web form: http://127.0.0.1:8000/  (API docs: /api/docs)\n")
    click.echo(f"{'username':28} {'password':20} {'agency':15} role")
    for user in accounts["users"]:
        click.echo(f"{user['username']:28} {user['password']:20} {user['agency']:15} {user['role']}")
    click.echo("\nAgency systems (private keys in " + str(folder) + "):")
    for client in accounts["clients"]:
        click.echo(f"  {client['client_id']:22} {client['private_jwk']}")
    user = accounts["users"][0]
    click.echo(
        "\nSign in as a person:\n"
        f"  curl -s -X POST http://127.0.0.1:8000/api/v1/auth/login -H 'Content-Type: application/json' \\\n"
        f"       -d '{{\"username\": \"{user['username']}\", \"password\": \"{user['password']}\"}}'\n"
        "Sign in as an agency system (client credentials with a signed assertion):\n"
        "  curl -s -X POST http://127.0.0.1:8000/api/v1/auth/token -d grant_type=client_credentials \\\n"
        "       -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \\\n"
        "       -d client_assertion=$(.venv/bin/nrm-api demo assertion moi-system)\n"
        "Then: curl -s http://127.0.0.1:8000/api/v1/agencies -H \"Authorization: Bearer $TOKEN\"\n"
        "\nIn a browser: http://127.0.0.1:8000/login — username and password from the table above; the first\n"
        "sign-in sets up an authenticator app (a QR code, and the key as text). Without a phone:\n"
        f"  .venv/bin/nrm-api demo otp {user['username']}     # prints the account's current 6-digit code\n"
    )


@demo_cli.command("assertion", with_appcontext=False)
@click.argument("client_id")
@click.option("--audience", default="http://127.0.0.1:8000", show_default=True)
def assertion(client_id: str, audience: str) -> None:
    """Print a fresh client assertion signed with a demo system's private key."""
    from .crypto.jose import sign_jwt

    path = _instance() / "demo" / f"{client_id}.jwk.json"
    if not path.exists():
        raise click.ClickException(f"no demo key at {path}: run `make run` (or `nrm-api demo setup`) first")
    key = json.loads(path.read_text())
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": str(uuid.uuid4()),
              "iat": now, "exp": now + 120}
    click.echo(sign_jwt(claims, key, {"alg": "Ed25519", "typ": "client-authentication+jwt", "kid": key["kid"]}))


@demo_cli.command("otp", action=AuditAction.USER_TOTP_SHOW)
@click.argument("username")
def otp(username: str) -> None:
    """Print a demo person's current TOTP code (for signing in on the web form without a phone)."""
    from .accounts.credentials import current_code

    click.echo(current_code(Actor.operator(), username))
