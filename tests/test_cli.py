"""The operator's command line: clear errors, non-zero exits, nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

from nrm_api.accounts.models import Client, ClientKey, User
from nrm_api.agencies.models import Agency
from nrm_api.audit.models import AuditEvent
from nrm_api.cli import main
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.extensions import db
from tests.conftest import create_agency, create_client


def _run(app: Flask, *args: str, stdin: str | None = None) -> Result:
    return app.test_cli_runner().invoke(main, args=list(args), input=stdin)


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Agency, Client, ClientKey, User, AuditEvent)}


#: What click and the commands tell before any work (bad options, unreadable files): no refusal to audit.
USAGE_ERRORS = ("Invalid value for", "is not JSON", "cannot read")


def _refused(app: Flask, *args: str, says: str, stdin: str | None = None, audited: bool | None = None) -> None:
    """A refusal changes nothing but, where the domain refused (not click's usage checks), the log."""
    if audited is None:
        audited = not any(usage in says for usage in USAGE_ERRORS)
    before = _counts()
    result = _run(app, *args, stdin=stdin)
    assert result.exit_code != 0, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    before["AuditEvent"] += int(audited)  # a refusal writes nothing but, where audited, its event
    assert _counts() == before


def _jwk_file(tmp_path: Path, content: Any, name: str = "key.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content) if not isinstance(content, str) else content)
    return str(path)


def test_agency_add_registers_and_audits(app: Flask) -> None:
    result = _run(app, "agency", "add", "shelter-vitebsk", "--kind", "ngo", "--name", "Vitebsk shelter",
                  "--name-ru", "Приют в Витебске", "--region", "Vitebsk")
    assert result.exit_code == 0, result.output
    agency = db.session.get(Agency, "shelter-vitebsk")
    assert agency is not None and agency.name_ru == "Приют в Витебске" and agency.regions == ["Vitebsk"]
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and event.action == "agency:create" and event.actor.startswith("cli:")


def test_agency_add_refuses_unknown_kind_and_duplicates(app: Flask) -> None:
    _refused(app, "agency", "add", "x-agency", "--kind", "church", "--name", "X", says="Invalid value for '--kind'")
    agency = create_agency()
    _refused(app, "agency", "add", agency, "--kind", "ngo", "--name", "X", says="exists already", audited=True)
    _refused(app, "agency", "add", "Bad Id!", "--kind", "ngo", "--name", "X", says="an agency id", audited=True)


def test_a_refused_agency_add_is_audited_as_the_operators(app: Flask) -> None:
    agency = create_agency()
    _refused(app, "agency", "add", agency, "--kind", "ngo", "--name", "X", says="exists already", audited=True)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and (event.action, event.outcome, event.reason) == ("agency:create", "denied", "conflict")
    assert event.actor.startswith("cli:")


def test_client_add_registers_public_keys(app: Flask, tmp_path: Path) -> None:
    agency = create_agency()
    one, two = generate_private_jwk(), generate_private_jwk()
    path = _jwk_file(tmp_path, {"keys": [public_half(one), public_half(two)]})
    result = _run(app, "client", "add", agency, f"{agency}-sys", "--jwks", path)
    assert result.exit_code == 0, result.output
    client = db.session.get(Client, f"{agency}-sys")
    assert client is not None and {key.kid for key in client.keys} == {one["kid"], two["kid"]}
    assert all("d" not in key.jwk for key in client.keys)


@pytest.mark.parametrize(("content", "says"), [
    ({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}, "only Ed25519 keys"),
    ({"kty": "RSA", "n": "0vx7", "e": "AQAB"}, "only Ed25519 keys"),
    ({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}, "only Ed25519 keys"),
    ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "not a valid Ed25519 public key"),
    ({"keys": []}, "at least one key"),
    ("not json at all", "is not JSON"),
])
def test_client_add_refuses_keys_that_are_not_ed25519_public_keys(app: Flask, tmp_path: Path, content: Any,
                                                                 says: str) -> None:
    agency = create_agency()
    _refused(app, "client", "add", agency, f"{agency}-sys", "--jwks", _jwk_file(tmp_path, content), says=says)


def test_client_add_refuses_a_private_key(app: Flask, tmp_path: Path) -> None:
    agency = create_agency()
    _refused(app, "client", "add", agency, f"{agency}-sys", "--jwks", _jwk_file(tmp_path, generate_private_jwk()),
             says="this is a private key")


def test_client_add_refuses_duplicates_unknown_agencies_and_missing_files(app: Flask, tmp_path: Path) -> None:
    client_id, private = create_client()
    agency = create_agency()
    fresh = _jwk_file(tmp_path, public_half(generate_private_jwk()))
    _refused(app, "client", "add", agency, client_id, "--jwks", fresh, says="exists already")
    _refused(app, "client", "add", "no-such-agency", "new-sys", "--jwks", fresh, says="no agency")
    _refused(app, "client", "add", agency, "new-sys", "--jwks", _jwk_file(tmp_path, public_half(private), "o.json"),
             says="is registered already")
    _refused(app, "client", "add", agency, "new-sys", "--jwks", str(tmp_path / "missing.json"), says="cannot read")


def test_client_add_key_and_revoke_key(app: Flask, tmp_path: Path) -> None:
    client_id, private = create_client()
    newer = generate_private_jwk()
    result = _run(app, "client", "add-key", client_id, "--jwks", _jwk_file(tmp_path, public_half(newer)),
                  "--not-after", "2030-01-01")
    assert result.exit_code == 0, result.output
    key = db.session.scalar(select(ClientKey).where(ClientKey.kid == newer["kid"]))
    assert key is not None and key.not_after is not None and key.not_after.year == 2030
    # "--" first: a key id is base64url and may start with "-"
    assert _run(app, "client", "revoke-key", "--", client_id, private["kid"]).exit_code == 0
    _refused(app, "client", "add-key", "no-such-client", "--jwks", _jwk_file(tmp_path, public_half(newer)),
             says="no client")
    _refused(app, "client", "revoke-key", client_id, "no-such-kid", says="has no key")


def test_user_add_with_totp_prints_the_uri_once(app: Flask) -> None:
    agency = create_agency()
    result = _run(app, "user", "add", "olga", "--agency", agency, "--role", "caseworker", "--password-stdin",
                  "--totp", stdin="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    user = db.session.scalar(select(User).where(User.username == "olga"))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert user.totp_sealed is not None and b"otpauth" not in user.totp_sealed


def test_user_add_refuses_bad_input(app: Flask) -> None:
    agency = create_agency()
    base = ["user", "add", "ivan", "--agency", agency, "--password-stdin"]
    _refused(app, *base, "--role", "superuser", says="Invalid value for '--role'", stdin="a long enough password\n")
    _refused(app, *base, "--role", "caseworker", says="at least 12", stdin="short\n")
    _refused(app, "user", "add", "ivan", "--agency", "nowhere", "--role", "auditor", "--password-stdin",
             says="no agency", stdin="a long enough password\n")
    assert _run(app, *base, "--role", "caseworker", stdin="a long enough password\n").exit_code == 0
    _refused(app, *base, "--role", "caseworker", says="exists already", stdin="a long enough password\n")


def test_help_lists_every_command_without_any_configuration(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")} | {"NRM_INSTANCE_PATH": str(tmp_path)}
    nrm_api = str(Path(sys.executable).with_name("nrm-api"))
    listing = subprocess.run([nrm_api, "--help"], env=env, capture_output=True, text=True, timeout=60, check=True)
    for command in ("db", "agency", "client", "user", "keys", "openapi", "serve", "demo"):
        assert f"  {command} " in listing.stdout
    refused = subprocess.run([nrm_api, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert refused.returncode != 0
    assert "NRM_SECRET_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_keys_init_creates_a_private_keyring_once(tmp_path: Path) -> None:
    from nrm_api.crypto.keyring import Keyring

    path = tmp_path / "ring" / "keyring.json"
    runner = CliRunner()
    first = runner.invoke(main, ["keys", "init"], env={"NRM_KEYRING": str(path)})
    assert first.exit_code == 0, first.output
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    second = runner.invoke(main, ["keys", "init"], env={"NRM_KEYRING": str(path)})
    assert second.exit_code != 0
    assert "refusing to overwrite" in second.output
    assert path.read_bytes() == before
    ring = Keyring.load(path)
    assert ring.token_key.kid != ring.signing_key.kid
    assert ring.unseal(ring.seal(b"seed", "user:a:totp"), "user:a:totp") == b"seed"
