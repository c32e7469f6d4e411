"""The subject access report: every version, every referral, every audited access of one form; signed; audited."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from nrm_api.cli import main
from nrm_api.extensions import keyring
from nrm_api.referrals import subject_access
from tests.conftest import audit_events
from tests.forms.helpers import CANARIES, adult, canary_document, child
from tests.referrals.helpers import network


def _report(app: Flask, tmp_path: Path, form_id: str, lang: str) -> bytes:
    out = tmp_path / f"report-{lang}.html"
    result = app.test_cli_runner().invoke(main, ["subject-access", "--form", form_id, "--out", str(out),
                                                 "--lang", lang])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_the_report_holds_every_version_referral_and_access_of_one_form_only(
        app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    net = network(client)
    form = net.ngo.sdk.submit_form(adult())
    amended = adult()
    amended["person"]["mobile_phone"] = "+375290001122"
    net.ngo.sdk.signed_write("PUT", f"/api/v1/forms/{form['id']}", amended, {"If-Match": form["etag"]})
    referral = net.ngo.sdk.refer(form["id"], net.shelter.id, "assistance", services=["accommodation"])
    net.shelter.sdk.set_status(referral["id"], "accepted")
    net.shelter.sdk.read_form(form["id"])
    other = net.iom.sdk.submit_form(canary_document())  # another person: nothing of theirs may appear
    net.iom.sdk.read_form(other["id"])

    resources = {f"form:{form['id']}", f"referral:{referral['id']}"}
    assert set(subject_access.resources_of(form["id"])) == resources
    expected = [event.id for event in audit_events() if event.resource in resources]
    document = _report(app, tmp_path, form["id"], "en")
    text = document.decode("utf-8")
    # one row per audited access, exactly the log's rows for the form's resources (before the report's own)
    assert [int(found) for found in re.findall(r'data-event="(\d+)"', text)] == expected
    assert "+375291234567" in text and "+375290001122" in text  # both versions, decrypted
    assert "Version 1 of" in text and "Version 2 of" in text
    assert "To:</strong> Ольга Иванова" in text
    assert "Accommodation" in text and "Accepted" in text
    for value in [*CANARIES.values(), other["id"]]:
        assert value not in text
    assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
    assert "@media print" in text
    events = audit_events(action="form:subject-access")
    assert [event.resource for event in events] == [f"form:{form['id']}"]
    assert "person.mobile_phone" in events[0].fields and events[0].count == len(expected)
    # the report's own event shows in the next report
    again = _report(app, tmp_path, form["id"], "en").decode("utf-8")
    assert [int(found) for found in re.findall(r'data-event="(\d+)"', again)][-1] == events[0].id


def test_the_signature_verifies_and_fails_after_one_changed_byte(app: Flask, client: FlaskClient,
                                                                 tmp_path: Path) -> None:
    net = network(client)
    form = net.ngo.sdk.submit_form(adult())
    document = _report(app, tmp_path, form["id"], "ru")
    keys = keyring().jwks()["keys"]
    assert subject_access.verify(document, keys)
    runner = app.test_cli_runner()
    path = tmp_path / "report-ru.html"
    assert runner.invoke(main, ["subject-access", "--verify", str(path)]).exit_code == 0
    for index in (0, len(document) // 2, len(document) - 60):
        changed = bytearray(document)
        changed[index] ^= 0x01
        assert not subject_access.verify(bytes(changed), keys)
    path.write_bytes(document.replace("Ольга".encode(), "Олега".encode(), 1))
    result = runner.invoke(main, ["subject-access", "--verify", str(path)])
    assert result.exit_code == 1 and "does not verify" in result.output


def test_every_language_renders_and_a_childs_report_goes_to_the_legal_representative(
        app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    net = network(client)
    form = net.ngo.sdk.submit_form(child())
    headings = {"ru": "Отчёт о доступе к персональным данным", "be": "Справаздача аб доступе да персанальных даных",
                "en": "Subject access report"}
    for lang, heading in headings.items():
        text = _report(app, tmp_path, form["id"], lang).decode("utf-8")
        assert f'<html lang="{lang}">' in text and f"<h1>{heading}</h1>" in text
        assert "Anna Ivanova" in text
    en = (tmp_path / "report-en.html").read_text(encoding="utf-8")
    assert "To the legal representative of a child:</strong> Anna Ivanova" in en


def test_an_unknown_form_is_refused_and_audited(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(main, ["subject-access", "--form", "no-such-form", "--out",
                                                 str(tmp_path / "x.html")])
    assert result.exit_code == 1 and not (tmp_path / "x.html").exists()
    assert audit_events(action="form:subject-access", outcome="denied")
