"""The offline bundle as a streamed download: audited before it starts, the same bytes the CLI writes."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import select

from nrm_api.audit import auditor, bundle
from nrm_api.audit import log as audit_log
from nrm_api.audit.actor import Actor
from nrm_api.audit.models import AuditEvent
from nrm_api.extensions import db
from tests.audit.helpers import add_events, sequence

AUDITOR = Actor("user:bundle-auditor", "moi", "auditor")


def test_the_streamed_bundle_verifies_and_matches_the_written_one(app: Flask, backend: str) -> None:
    add_events(3, label="bundle")
    sequence(checkpoint=True)
    written = io.StringIO()
    count = audit_log.export_bundle(db.session, written)
    streamed = "".join(auditor.export_bundle(AUDITOR))
    exported = db.session.scalars(select(AuditEvent).where(AuditEvent.actor == AUDITOR.subject,
                                                           AuditEvent.resource == "audit:export:bundle")).all()
    assert len(exported) == 1 and exported[0].action == "audit:export"
    assert streamed.count("\n") >= count >= 3
    assert streamed.startswith(written.getvalue().split("\n", 1)[0])  # the same header
    report = bundle.verify_file(io.StringIO(streamed))
    assert report.valid, report.as_dict()
    assert report.events_checked >= count
