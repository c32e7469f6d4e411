"""The restore drill (docs/backups.md): back a running service up, restore it elsewhere, prove it whole.

A served instance on PostgreSQL takes forms, a referral and its status change (and their audit
events); a checkpoint is signed; the service goes on writing; `nrm-api backup` copies the database
while it runs. The backup is restored into a fresh database with the keyring kept apart, and a
second server on it must: verify its audit log, decrypt every form, and prove with a consistency
proof that its log extends the checkpoint taken before the backup. With any other keyring, the same
database opens no form: the database alone is never enough.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from nrm_api import create_app
from nrm_api.audit import merkle, notes
from nrm_api.client import NrmClient
from nrm_api.crypto.errors import CryptoError
from nrm_api.crypto.keyfile import unb64u
from nrm_api.crypto.keyring import Keyring
from nrm_api.extensions import db
from nrm_api.forms import sealing
from nrm_api.forms.models import FormKey
from tests.conftest import bearer, create_agency, create_client, dispose, settings
from tests.databases import empty_database, postgres_server
from tests.forms.helpers import adult
from tests.serving import Server, call, free_port, serve

pytestmark = pytest.mark.skipif(not postgres_server(), reason="the drill runs on PostgreSQL")


def _agency(client_id: str) -> str:
    return client_id.rsplit("-system-", 1)[0]


def _checkpoints(server: Server, token: str) -> dict[str, Any]:
    status, body = call(f"{server.base}/api/v1/audit/checkpoints", headers=bearer(token))
    assert status == 200, body
    return dict(body)


def _opened(note: str, origin: str, jwks: list[dict[str, str]]) -> notes.Checkpoint:
    """A checkpoint whose signature verifies with one of the service's published keys."""
    return notes.open_checkpoint(note, origin, [unb64u(key["x"]) for key in jwks])


def _sequence_checkpoint(server: Server) -> None:
    done = server.cli("audit", "sequence", "--checkpoint")
    assert done.returncode == 0, done.stderr


def test_a_backup_of_a_running_service_restores_whole_with_its_keyring(tmp_path: Path) -> None:
    with serve("postgresql", tmp_path / "live", workers=1, systems=1) as live:
        with live.beside():
            ministry = create_client(create_agency(kind="authority"))
        ngo, moi = live.sdk(0), NrmClient(live.base, *ministry)
        forms = [ngo.submit_form(adult())["id"] for _ in range(3)]
        referral = ngo.refer(forms[0], _agency(ministry[0]), "identification", priority="urgent")["id"]
        moi.set_status(referral, "received")
        assert moi.read_form(forms[0])["withheld"] == []
        # the checkpoint an auditor keeps before the backup
        _sequence_checkpoint(live)
        auditor = live.login(live.auditor)
        before = _checkpoints(live, auditor)
        jwks, origin = ngo.jwks(), before["origin"]
        kept = _opened(before["items"][0]["note"], origin, jwks)
        # the service goes on while it is backed up
        forms.append(ngo.submit_form(adult())["id"])
        made = live.cli("backup", "--out", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["audit_checkpoint"]["tree_size"] >= kept.size
    assert not any("keyring" in name for name in manifest["files"])

    with empty_database("postgresql", tmp_path) as target:
        base = f"http://127.0.0.1:{free_port()}"
        # the same keyring (copied apart from the database), secret and log origin; a new address
        env = {**live.env, "NRM_DATABASE_URL": target, "NRM_BASE_URL": base,
               "NRM_AUDIT_ORIGIN": f"{urlsplit(live.base).netloc}/audit-log"}
        restored = Server(base, target, env, tmp_path / "restored.stderr", auditor=live.auditor,
                          systems=live.systems)
        done = restored.cli("restore", "--from", str(tmp_path / "backup"))
        assert done.returncode == 0, done.stderr
        verified = restored.cli("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["valid"] is True

        restored.start(workers=1)
        try:
            again = restored.sdk(0)
            for form_id in forms:
                read = again.read_form(form_id)
                assert read["withheld"] == [] and read["document"]["person"]["first_name"] == "Olga"
            assert NrmClient(base, *ministry).referral(referral)["status"] == "received"
            # the restored log only grew from the checkpoint kept before the backup. The served node's
            # own sequencer may hold the run's lock when the command runs (it then signs nothing, and
            # says so): run it again until a newer checkpoint is signed, within a bound
            auditor = restored.login(restored.auditor)
            deadline = time.monotonic() + 30
            while True:
                _sequence_checkpoint(restored)
                after = _checkpoints(restored, auditor)
                newest = _opened(after["items"][0]["note"], origin, jwks)
                if newest.size > kept.size or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert after["origin"] == origin
            assert newest.size > kept.size
            status, body = call(f"{base}/api/v1/audit/consistency?from={kept.size}&to={newest.size}",
                                headers=bearer(auditor))
            assert status == 200, body
            merkle.verify_consistency(kept.size, newest.size, kept.root, newest.root,
                                      [base64.b64decode(node) for node in body["proof"]])
        finally:
            restored.stop()
        _only_the_keyring_opens_the_forms(target, Path(live.env["NRM_KEYRING"]), forms, tmp_path)


def _only_the_keyring_opens_the_forms(url: str, keyring: Path, forms: list[str], tmp_path: Path) -> None:
    """The restored database with another keyring opens no form's data key; with its own, every one."""
    stranger = Keyring.create(tmp_path / "other" / "keyring.json").path
    for ring, opens in ((stranger, False), (keyring, True)):
        app = create_app(settings(url, ring))
        try:
            with app.app_context():
                keys = list(db.session.scalars(select(FormKey).where(FormKey.form_id.in_(forms))))
                assert len(keys) == len(forms)
                for key in keys:
                    if opens:
                        assert len(sealing.open_key(key)) == 32
                    else:
                        with pytest.raises(CryptoError):
                            sealing.open_key(key)
        finally:
            dispose(app)
