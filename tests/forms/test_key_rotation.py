"""KEK rotation on a running service: `nrm-api serve` takes forms while the CLI rotates, rewraps and retires.

Every form the service acknowledged must decrypt afterwards, and after a restart: no process may wrap
a data key under a KEK that is then destroyed, and every process must see the new KEK without a
restart. Each backend gets its own database, keyring and instance folder; every loop is bounded.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from nrm_api import create_app
from nrm_api.cli import main
from nrm_api.client import NrmError
from nrm_api.crypto.keyring import Keyring
from nrm_api.errors import ConflictError
from nrm_api.extensions import db
from nrm_api.forms import keys, sealing
from nrm_api.forms.models import FormDraft, FormKey
from tests.conftest import (
    OPERATOR,
    _backends,
    create_agency,
    dispose,
    last_event,
    settings,
)
from tests.databases import database
from tests.forms.helpers import adult, agency
from tests.serving import Server, serve

SUBMITTERS = 4
#: Forms a step may take beyond what is waited for: submitting goes on while a command runs (that is
#: the point), but a slow command on a busy machine must not use up what the later steps need.
STEP_FORMS = 40
#: Each submitter's pause between two forms.
PAUSE_SECONDS = 0.25
PHASE_SECONDS = 30.0
WORKERS = 3


@pytest.fixture(params=_backends())
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A served instance with one agency system, on its own free port; the server is always stopped."""
    with serve(request.param, tmp_path, workers=WORKERS, systems=1) as server:
        yield server


@dataclass
class Submitters:
    """Threads submitting forms until told to stop or the deadline; each step's forms bounded (``budget``)."""

    instance: Server
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)
    #: Submitters idle once this many forms are acknowledged, until ``wait_for`` raises it.
    budget: int = STEP_FORMS

    def __enter__(self) -> Submitters:
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(SUBMITTERS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self, number: int) -> None:
        sdk = self.instance.sdk()
        deadline = time.monotonic() + 4 * PHASE_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            if self.count() >= self.budget:
                self.stop.wait(0.05)
                continue
            document = adult()
            document["person"]["first_name"] = f"Olga{number}x{secrets.token_hex(3)}"
            try:
                written = sdk.submit_form(document)
            except (NrmError, OSError) as error:
                with self.lock:
                    self.refused.append(str(error)[:200])
                continue
            with self.lock:
                self.acknowledged[written["id"]] = document
            self.stop.wait(PAUSE_SECONDS)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def wait_for(self, more: int) -> None:
        """Let ``more`` forms be acknowledged (bounded in time), and ``STEP_FORMS`` more while the next step runs."""
        target, deadline = self.count() + more, time.monotonic() + PHASE_SECONDS
        with self.lock:
            self.budget = target + STEP_FORMS
        while self.count() < target and time.monotonic() < deadline:
            time.sleep(0.05)


def _all_decrypt(instance: Server, forms: dict[str, dict[str, Any]]) -> None:
    sdk = instance.sdk()
    for form_id, document in forms.items():
        assert sdk.read_form(form_id)["document"] == document, form_id


def test_forms_acknowledged_while_keys_rotate_decrypt_after_and_after_a_restart(instance: Server) -> None:
    marks = []
    with Submitters(instance) as submitters:
        submitters.wait_for(5)
        for step in (["keys", "rotate"], ["keys", "rewrap"], ["keys", "rewrap", "--retire"]):
            marks.append(submitters.count())
            for _ in range(3):  # a wrap in flight makes a retirement refuse, naming the count: run it again
                done = instance.cli(*step)
                if done.returncode == 0 or "still wraps" not in done.stderr:
                    break
            assert done.returncode == 0, done.stderr
            submitters.wait_for(8)
        marks.append(submitters.count())
    assert marks == sorted(set(marks)), (marks, submitters.refused[:5])  # forms went in between every two steps
    assert Keyring.load(instance.env["NRM_KEYRING"]).kek_versions == [2]
    forms = dict(submitters.acknowledged)
    _all_decrypt(instance, forms)
    instance.stop()
    instance.start(WORKERS)
    _all_decrypt(instance, forms)


def test_retire_refuses_naming_the_count_while_a_kek_wraps_stored_keys(app: Flask, client: FlaskClient) -> None:
    ngo = agency(client)
    ids = [ngo.sdk.submit_form(adult())["id"] for _ in range(2)]
    ring: Keyring = app.extensions["nrm_keyring"]
    original, old = ring.path.read_bytes(), ring.current_kek_version
    try:
        ring.rotate_kek()
        remaining = keys.wrapped_by(old)
        assert remaining >= 2
        says = f"KEK version {old} still wraps {remaining} stored data key"
        with pytest.raises(ConflictError, match=says) as refused:
            keys.retire(OPERATOR, old)
        assert old in ring.kek_versions
        # what the door's boundary audits (tests/test_cli_refusals.py runs it)
        assert (refused.value.action, refused.value.reason, refused.value.resource) == (
            "keys:retire", f"in_use:{remaining}", f"kek:{old}")
        result = app.test_cli_runner().invoke(main, ["keys", "rewrap", "--retire"])
        assert result.exit_code == 0, result.output
        assert ring.kek_versions == [old + 1]
        event = last_event()
        assert (event.action, event.outcome, event.resource) == ("keys:retire", "allowed", f"kek:{old}")
        for form_id in ids:
            assert ngo.sdk.read_form(form_id)["document"] == adult()
    finally:
        ring.path.write_bytes(original)


@pytest.fixture(params=_backends())
def fresh_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app on a database of its own, committing for real (two transactions must meet)."""
    ring = Keyring.create(tmp_path / "keyring.json")
    with database(request.param, tmp_path) as url:
        app = create_app(settings(url, ring.path))
        try:
            yield app
        finally:
            dispose(app)


def test_a_wrap_in_flight_holds_off_the_retirement_of_its_kek(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        agency_id = create_agency()
    wrapped, go, outcome = threading.Event(), threading.Event(), {}

    def wrap_a_draft_slowly() -> None:
        with fresh_app.app_context():
            draft = FormDraft(id=str(uuid.uuid4()), agency_id=agency_id, created_by="test", public={}, sealed={})
            draft.kek_version, draft.wrapped_dek = sealing.wrap_new(b"k" * 32, f"draft:{draft.id}")
            db.session.add(draft)
            db.session.flush()
            outcome["draft"] = draft.id
            wrapped.set()
            go.wait(timeout=30)
            db.session.commit()

    def retire() -> None:
        with fresh_app.app_context():
            try:
                keys.retire(OPERATOR, 1)
                outcome["retire"] = "retired"
            except ConflictError as error:
                outcome["retire"] = error.detail

    writer = threading.Thread(target=wrap_a_draft_slowly)
    writer.start()
    assert wrapped.wait(timeout=30)
    ring: Keyring = fresh_app.extensions["nrm_keyring"]
    assert ring.rotate_kek() == 2  # the draft was wrapped under 1 just before
    retirer = threading.Thread(target=retire)
    retirer.start()
    time.sleep(0.5)  # give a retirement that did not wait for the writer the time to run ahead
    go.set()
    writer.join(timeout=30)
    retirer.join(timeout=30)
    assert outcome["retire"].startswith("KEK version 1 still wraps 1 stored data key")
    with fresh_app.app_context():
        draft = db.session.get(FormDraft, outcome["draft"])
        assert draft is not None and sealing.unwrap_stored(draft, f"draft:{draft.id}") == b"k" * 32


def test_a_key_read_before_its_rewrap_opens_after_its_old_kek_is_retired(app: Flask, client: FlaskClient) -> None:
    written = agency(client).sdk.submit_form(adult())
    ring: Keyring = app.extensions["nrm_keyring"]
    original, old = ring.path.read_bytes(), ring.current_kek_version
    try:
        stale = db.session.get(FormKey, written["id"])  # a reader's transaction loaded the row here
        assert stale is not None and stale.kek_version == old
        dek = sealing.open_key(stale)
        new = ring.rotate_kek()
        rewrapped = ring.wrap_dek(dek, f"form:{written['id']}")[1]  # `keys rewrap`, in another process
        db.session.execute(text("UPDATE form_keys SET kek_version = :v, wrapped_dek = :w WHERE form_id = :f"),
                           {"v": new, "w": rewrapped, "f": written["id"]})
        ring.retire_kek(old)
        assert stale.kek_version == old
        assert sealing.open_key(stale) == dek
    finally:
        ring.path.write_bytes(original)


def test_a_rewrap_never_gives_a_form_shredded_meanwhile_its_key_back(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        written = agency(fresh_app.test_client()).sdk.submit_form(adult())
    shredding, go, errors = threading.Event(), threading.Event(), []

    def shred_slowly() -> None:
        with fresh_app.app_context():
            key = db.session.get(FormKey, written["id"])
            assert key is not None
            key.wrapped_dek = None  # what `forms shred` writes; its row stays locked until the commit
            db.session.flush()
            shredding.set()
            go.wait(timeout=30)
            db.session.commit()

    def rewrap() -> None:
        with fresh_app.app_context():
            try:
                keys.rewrap(OPERATOR)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    shredder = threading.Thread(target=shred_slowly)
    shredder.start()
    assert shredding.wait(timeout=30)
    fresh_app.extensions["nrm_keyring"].rotate_kek()
    rewrapper = threading.Thread(target=rewrap)
    rewrapper.start()
    time.sleep(0.5)  # let a rewrap that does not lock the rows read the key before the shred commits
    go.set()
    shredder.join(timeout=30)
    rewrapper.join(timeout=30)
    assert errors == []
    with fresh_app.app_context():
        key = db.session.get(FormKey, written["id"])
        assert key is not None and key.wrapped_dek is None
