"""Neither the database, nor a dump of it, nor the logs hold any sensitive value in clear."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from nrm_api.client import NrmClient
from nrm_api.extensions import db
from tests.conftest import BASE_URL, create_agency, create_client
from tests.forms.helpers import CANARIES, canary_document, flask_transport


def _forms_of_canaries(app: Flask) -> str:
    """Submit and read back canary forms with real commits; return the agency id."""
    with app.app_context():
        agency_id = create_agency()
        client_id, private = create_client(agency_id)
        authority = create_agency(kind="authority")
        moi_id, moi_key = create_client(authority)
    sdk = NrmClient(BASE_URL, client_id, private, flask_transport(app.test_client()))
    moi = NrmClient(BASE_URL, moi_id, moi_key, flask_transport(app.test_client()))
    for _ in range(2):
        document = canary_document()
        document["screening"]["place"] = PUBLIC_CANARY
        written = sdk.submit_form(document)
        assert sdk.read_form(written["id"])["document"]["person"]["first_name"] == CANARIES["person.first_name"]
        referral = sdk.refer(written["id"], authority, "identification", note=REFERRAL_CANARIES[0])["id"]
        moi.set_status(referral, "rejected", reason=REFERRAL_CANARIES[1])
        assert sdk.history(referral)["events"][-1]["body"]["reason"] == REFERRAL_CANARIES[1]
    return agency_id


#: A referral's note and a status change's reason: sealed under the form's key like its fields.
REFERRAL_CANARIES = ("Zxq canary referral note", "Zxq canary rejection reason")


#: A public field's value: the scan must find it, or it is not looking at the data at all.
PUBLIC_CANARY = "Zxqpubliccanaryplace"


def _forms_found(data: bytes) -> list[str]:
    found = []
    for value in [*CANARIES.values(), *REFERRAL_CANARIES]:
        escaped = json.dumps(value).strip('"').encode()
        if value.encode() in data or escaped in data or value.lower().encode() in data.lower():
            found.append(value)
    return found


def test_no_canary_in_the_database_its_dump_or_the_logs(session_app: Flask, database_url: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _forms_of_canaries(session_app)
    with session_app.app_context():
        db.session.close()
        # no connection of this process may be open on the files while they are read and closed:
        # closing any descriptor drops the process's POSIX locks, and another process would then
        # rebuild the WAL index under connections still using it
        db.engine.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        files = [database, *database.parent.glob(database.name + "-*")]
        data = b"".join(path.read_bytes() for path in files if path.exists())
    else:
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump (PostgreSQL's client) is needed to scan a dump"
        dump = subprocess.run([pg_dump, "--no-owner", "-h", str(url.host or "127.0.0.1"), "-p",
                               str(url.port or 5432), "-U", str(url.username), str(url.database)],
                              capture_output=True, check=True, timeout=120)
        data = dump.stdout
        assert b"COPY public.form_versions" in data
    assert PUBLIC_CANARY.encode() in data
    assert _forms_found(data) == []
    assert _forms_found(caplog.text.encode()) == []
