"""HTCDS export and import: what the exporter may see, encrypted to a recipient, read back into a fresh instance.

Real crypto (ECDH-ES with P-256 and X25519 keys joserfc makes), real databases: the export's and a
fresh one of the same backend, with a keyring of its own.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwe
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import select

from nrm_api import create_app
from nrm_api.audit.actor import Actor
from nrm_api.cli import main
from nrm_api.crypto.keyring import Keyring
from nrm_api.extensions import db
from nrm_api.forms import htcds, service
from nrm_api.forms.document import FormDocumentSchema
from nrm_api.forms.models import Form
from nrm_api.forms.rules import sealed_paths
from tests.conftest import audit_events, bearer, create_agency, dispose, settings
from tests.databases import database
from tests.forms.helpers import CANARIES, adult, canary_document
from tests.referrals.helpers import network

CANARY = "Zxqhtcdscanaryname"


def _keys(tmp_path: Path, kind: str = "EC") -> tuple[Path, Path]:
    """A recipient's key pair as files: (public, private)."""
    key = ECKey.generate_key("P-256") if kind == "EC" else OKPKey.generate_key("X25519")
    public, private = tmp_path / f"{kind}-public.jwk", tmp_path / f"{kind}-private.jwk"
    public.write_text(json.dumps(key.as_dict(private=False)))
    private.write_text(json.dumps(key.as_dict(private=True)))
    return public, private


def _pruned(value: Any) -> Any:
    """A document without its empty objects (what a section whose every field is withheld leaves)."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item != {}}
    return value


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(main, args=list(args))


def _leaves(schema: Any, prefix: str = "") -> list[str]:
    """Every leaf path of the form's schema (a nested object is walked, a list of objects is one leaf)."""
    import marshmallow as ma

    found: list[str] = []
    for name, field in schema.fields.items():
        path = f"{prefix}{name}"
        if isinstance(field, ma.fields.Nested) and path not in sealed_paths():
            found.extend(_leaves(field.schema, f"{path}."))
        else:
            found.append(path)
    return found


def test_every_field_of_the_form_has_a_column() -> None:
    leaves = [path for path in _leaves(FormDocumentSchema()) if path != "schema_version"]
    assert htcds.covered(leaves) == []
    assert len(set(htcds.COLUMN_NAMES)) == len(htcds.COLUMNS)


@contextmanager
def _fresh(backend: str, folder: Path) -> Iterator[Flask]:
    """Another instance: a new database of the same backend and a keyring of its own."""
    folder.mkdir()
    with database(backend, folder, prefix="nrm_htcds") as url:
        app = create_app(settings(url, Keyring.create(folder / "keyring.json").path))
        try:
            yield app
        finally:
            dispose(app)


def _world(client: FlaskClient) -> tuple[Any, str, str]:
    """A network; a form IOM holds for airport reception; another agency's canary form: (net, form, canary)."""
    net = network(client)
    document = adult()
    document["person"]["email"] = "olga@example.org"
    form_id = net.ngo.sdk.submit_form(document)["id"]
    net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["airport_reception"])
    other = canary_document()
    other["person"]["first_name"] = CANARY
    net.stranger.sdk.submit_form(other)
    return net, form_id, CANARY


@pytest.mark.parametrize(("kind", "fmt"), [("EC", "json"), ("OKP", "csv")])
def test_the_round_trip_keeps_what_the_exporter_sees_and_nothing_else(
        app: Flask, client: FlaskClient, backend: str, tmp_path: Path, kind: str, fmt: str) -> None:
    net, form_id, canary = _world(client)
    seen = net.iom.sdk.read_form(form_id)["document"]
    assert seen["account"] == {} and "perpetrators" not in seen  # withheld from airport reception
    public, private = _keys(tmp_path, kind)
    out = tmp_path / "export.jwe"
    result = _cli(app, "export", "htcds", "--agency", net.iom.id, "--recipient", str(public), "--out", str(out),
                  "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "exported 1 case(s)" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    compact = out.read_text()
    protected = jwe.decrypt_compact(compact, (ECKey if kind == "EC" else OKPKey).import_key(
        json.loads(private.read_text())))
    assert protected.protected["alg"] == "ECDH-ES" and protected.protected["enc"] == "A256GCM"
    plaintext = bytes(protected.plaintext or b"")
    assert b"Olga" in plaintext and b"olga@example.org" in plaintext
    for value in [canary, *CANARIES.values(), "I was promised work", "Met through an online advert"]:
        assert value.encode() not in plaintext and value.encode() not in compact.encode()
    assert b"Olga" not in compact.encode()  # never in the clear at rest
    # the exports' reads and the export itself are audited: one read, one export with its row count
    reads = audit_events(action="form:read", reason="htcds_export")
    assert [event.resource for event in reads] == [f"form:{form_id}"]
    assert "account.narrative" not in reads[0].fields and "person.first_name" in reads[0].fields
    exported = audit_events(action="export:htcds")
    assert [(event.count, event.outcome, event.agency) for event in exported] == [(1, "allowed", net.iom.id)]
    assert canary not in exported[0].body.decode() and "Olga" not in exported[0].body.decode()

    with _fresh(backend, tmp_path / "fresh") as fresh, fresh.app_context():  # the command runs in the context it finds
        newcomer = create_agency(kind="international")
        result = _cli(fresh, "import", "htcds", "--in", str(out), "--key", str(private), "--agency", newcomer)
        assert result.exit_code == 0, result.output
        assert "imported 1 form(s)" in result.output
        forms = list(db.session.scalars(select(Form)))
        assert [form.agency_id for form in forms] == [newcomer]
        body, _ = service.read(Actor("cli:test", newcomer, "operator"), forms[0].id)
        assert body["document"] == _pruned(seen)  # every field IOM saw, and nothing else
        assert body["withheld"] == []
        imported = audit_events(action="import:htcds")
        assert [(event.count, event.outcome) for event in imported] == [(1, "allowed")]
        assert "Olga" not in imported[0].body.decode()


def test_the_author_exports_every_field(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    net, form_id, canary = _world(client)
    public, private = _keys(tmp_path)
    out = tmp_path / "export.jwe"
    assert _cli(app, "export", "htcds", "--agency", net.ngo.id, "--recipient", str(public), "--out",
                str(out)).exit_code == 0
    plaintext = jwe.decrypt_compact(out.read_text(), ECKey.import_key(json.loads(private.read_text()))).plaintext
    body = json.loads(plaintext or b"")
    assert [row["cas_CaseId"] for row in body["rows"]] == [form_id]
    row = body["rows"][0]
    assert row["vic_Narrative"] == "I was promised work on a building site."
    assert row["per_Perpetrators"][0]["per_RoleInProcess"] == "RecruiterOrIntermediary"
    assert row["hte_Events"][0] == {"hte_Type": "Recruitment", "hte_Country": "BY", "hte_State": "Gomel"}
    assert canary.encode() not in (plaintext or b"")


def test_a_form_whose_consent_was_withdrawn_or_that_was_shredded_is_not_exported(
        app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    """Review: the author's export carried them (and an import would have made them active forms again)."""
    net, form_id, _ = _world(client)
    withdrawn = net.ngo.sdk.submit_form(adult())["id"]
    net.ngo.sdk.signed_write("POST", f"/api/v1/forms/{withdrawn}/consent-withdrawal",
                             {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"})
    shredded = net.ngo.sdk.submit_form(adult())["id"]
    assert _cli(app, "forms", "shred", shredded, "--reason", "erasure_request", "--yes").exit_code == 0
    public, private = _keys(tmp_path)
    out = tmp_path / "export.jwe"
    result = _cli(app, "export", "htcds", "--agency", net.ngo.id, "--recipient", str(public), "--out", str(out))
    assert result.exit_code == 0 and "exported 1 case(s)" in result.output, result.output
    plaintext = jwe.decrypt_compact(out.read_text(), ECKey.import_key(json.loads(private.read_text()))).plaintext
    assert [row["cas_CaseId"] for row in json.loads(plaintext or b"")["rows"]] == [form_id]
    assert [event.resource for event in audit_events(action="form:read", reason="htcds_export")] == [
        f"form:{form_id}"]


def test_a_wrong_key_fails_cleanly_and_changes_nothing(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    net, _, _ = _world(client)
    public, _ = _keys(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_private = _keys(tmp_path / "other")
    out = tmp_path / "export.jwe"
    assert _cli(app, "export", "htcds", "--agency", net.iom.id, "--recipient", str(public), "--out",
                str(out)).exit_code == 0
    target = create_agency()
    before = db.session.query(Form).count()
    result = _cli(app, "import", "htcds", "--in", str(out), "--key", str(other_private), "--agency", target)
    assert result.exit_code == 1
    assert "does not open with this key" in result.output
    assert db.session.query(Form).count() == before
    refused = audit_events(action="import:htcds")
    assert [(event.outcome, event.reason) for event in refused] == [("denied", "undecryptable")]


def test_a_bad_row_imports_nothing(app: Flask, tmp_path: Path) -> None:
    public, private = _keys(tmp_path)
    good = htcds.row(adult(), {})
    bad = dict(good, prs_Email="not an address")
    from nrm_api.crypto import jwe as service_jwe

    compact = service_jwe.encrypt(htcds.to_json([good, bad], {}), json.loads(public.read_text()), "application/json")
    (tmp_path / "bad.jwe").write_text(compact)
    target = create_agency()
    before = db.session.query(Form).count()
    result = _cli(app, "import", "htcds", "--in", str(tmp_path / "bad.jwe"), "--key", str(private), "--agency", target)
    assert result.exit_code == 1
    assert "row 2 does not validate: person.email" in result.output
    assert "not an address" not in result.output
    assert db.session.query(Form).count() == before


@pytest.mark.parametrize(("content", "says"), [
    ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "only a public EC P-256"),
    ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, "only a public EC P-256"),
    ("private", "this is a private key"),
    # review: a signing key, another algorithm's key, key_ops without deriveKey and an X25519 point of
    # small order were a 500 (joserfc or cryptography raising at encryption), or accepted
    ("use-sig", "not marked for ECDH-ES encryption"),
    ("alg-es256", "not marked for ECDH-ES encryption"),
    ("key-ops-encrypt", "not a usable ECDH-ES recipient key"),
    ({"kty": "OKP", "crv": "X25519", "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "not a usable ECDH-ES"),
])
def test_the_recipient_must_be_a_public_p256_or_x25519_key(app: Flask, tmp_path: Path, content: Any,
                                                          says: str) -> None:
    public, private = _keys(tmp_path)
    marked = {"use-sig": {"use": "sig"}, "alg-es256": {"alg": "ES256"}, "key-ops-encrypt": {"key_ops": ["encrypt"]}}
    if isinstance(content, str) and content in marked:
        content = {**json.loads(public.read_text()), **marked[content]}
    recipient = private if content == "private" else tmp_path / "recipient.jwk"
    if content != "private":
        recipient.write_text(json.dumps(content))
    agency_id = create_agency(kind="international")
    out = tmp_path / "export.jwe"
    result = _cli(app, "export", "htcds", "--agency", agency_id, "--recipient", str(recipient), "--out", str(out))
    assert result.exit_code == 1 and says in result.output, result.output
    assert not out.exists()


def test_the_api_exports_for_the_authority_and_iom_only(client: FlaskClient, tmp_path: Path) -> None:
    net, form_id, canary = _world(client)
    key = ECKey.generate_key("P-256")
    body = {"recipient": key.as_dict(private=False), "format": "csv"}
    answer = client.post("/api/v1/exports/htcds", json=body, headers=bearer(net.iom.sdk.token()))
    assert answer.status_code == 200, answer.get_json()
    assert answer.mimetype == "application/jose" and answer.headers["X-Row-Count"] == "1"
    opened = jwe.decrypt_compact(answer.get_data(as_text=True), key)
    assert opened.protected["cty"] == "text/csv"
    plaintext = bytes(opened.plaintext or b"")
    assert form_id.encode() in plaintext and canary.encode() not in plaintext
    assert b"I was promised work" not in plaintext  # special: withheld from airport reception
    assert audit_events(action="export:htcds")[-1].count == 1
    refused = client.post("/api/v1/exports/htcds", json=body, headers=bearer(net.ngo.sdk.token()))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    private = client.post("/api/v1/exports/htcds", json={"recipient": key.as_dict(private=True)},
                          headers=bearer(net.iom.sdk.token()))
    assert private.status_code == 422 and "private key" in private.get_json()["detail"]
    signing = client.post("/api/v1/exports/htcds", json={"recipient": {**key.as_dict(private=False), "use": "sig"}},
                          headers=bearer(net.iom.sdk.token()))
    assert signing.status_code == 422 and "not marked for ECDH-ES" in signing.get_json()["detail"]


def test_an_unknown_column_is_named_only_when_it_looks_like_one() -> None:
    """Review: a CSV without its header row had the first person's values quoted back as 'unknown columns'."""
    headerless = b"Zxqheadername,MP1234567,prs_Nickname\r\nOlga,MP7654321,x\r\n"
    with pytest.raises(htcds.HtcdsError) as raised:
        htcds.rows_of(headerless, "text/csv")
    assert "Zxqheadername" not in str(raised.value) and "MP1234567" not in str(raised.value)
    assert "#1" in str(raised.value) and "prs_Nickname" in str(raised.value)
    with pytest.raises(htcds.HtcdsError) as raised:
        htcds.document({"prs_FirstName": "Olga", "Zxqkeyname Petrova": "x", "per_Alias": "y"}, "row 1")
    assert "Zxqkeyname" not in str(raised.value) and "per_Alias" in str(raised.value)
