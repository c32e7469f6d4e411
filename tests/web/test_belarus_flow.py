"""The whole Belarus flow through the pages only, in Debian's chromium, on the seeded demo network.

Brest legal aid (an NGO) detects a person, fills the identification form step by step, submits it and
refers it to the Ministry of the Interior; the Ministry's caseworker accepts, records the decision
and refers to IOM for assistance; IOM refers to the Minsk shelter for accommodation; the shelter
moves it to received, accepted, in progress and completed. Each sender's Sent page shows each
status as it changes. Every person sits at their own browser (a context each, as at their own
desk), enrols TOTP on first sign-in and stays signed in.

Four runs: English with JavaScript on and off, Russian with it on and Belarusian with it off; the
Russian and Belarusian runs check that no English string is left on any page visited. axe-core
checks every page of the runs with JavaScript on; a screenshot of every page goes under the run's
screenshots folder. At the end each step is an audit event naming its person, and every stored
signature of the flow — the form's, the decision's, each referral event's — verifies with the
agency's published hosted key, checked here with joserfc over RFC 8785 bytes, not by the service.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import select

from nrm_api import demo
from nrm_api.accounts.models import ClientKey
from nrm_api.audit.actor import Actor
from nrm_api.crypto.passwords import totp_now
from nrm_api.extensions import db
from nrm_api.forms import service as forms
from nrm_api.forms.models import Form, FormDecision, FormVersion
from nrm_api.referrals import queries
from nrm_api.referrals.models import Referral
from nrm_api.web.form_definition import STEPS
from tests.conftest import _backends
from tests.web.support import WebServer, axe_check, fill_step, serve_web

Shot = Callable[[Any, str], Path]
#: A served instance with the demo network, and its people: username → (username, password).
Network = tuple[WebServer, dict[str, tuple[str, str]]]

#: (backend, language, JavaScript): both backends, JavaScript on and off, three languages.
RUNS = [("postgresql", "en", True), ("sqlite", "en", False), ("sqlite", "ru", True), ("postgresql", "be", False)]
LOCALES = {"en": "en-GB", "ru": "ru-RU", "be": "be-BY"}

#: What the NGO's caseworker types, step by step (one pair per value; a box ticked is its value).
ANSWERS: dict[str, list[tuple[str, str]]] = {
    "consent": [("consent.purposes.identification", "true"), ("consent.purposes.assistance", "true"),
                ("consent.purposes.data_sharing", "true"), ("consent.recipients", "kind:authority"),
                ("consent.recipients", "kind:international"), ("consent.recipients", "kind:ngo"),
                ("consent.obtained_at", "2026-11-30T10:00"), ("consent.obtained_by", "caseworker"),
                ("consent.method", "written"), ("consent.language", "ru"),
                ("consent.checklist.told_purpose", "true"), ("consent.checklist.told_withdrawal", "true")],
    "screening": [("screening.detected_by", "NGO"), ("screening.detected_on", "2026-11-30"),
                  ("screening.place", "Брест")],
    "person": [("person.first_name", "Olga"), ("person.second_name", "Sidorova"),
               ("person.first_name_cyrillic", "Ольга"), ("person.birthdate", "1999-03-02"),
               ("person.gender", "Feminine"), ("person.citizenship", "BY")],
    "child": [],
    "exploitation": [("exploitation.types_of_exploitation", "ForcedLabour"),
                     ("exploitation.locations.0.type", "Recruitment"), ("exploitation.locations.0.country", "BY"),
                     ("exploitation.locations.0.oblast", "Brest")],
    "account": [("account.narrative", "Завербована через объявление о работе за границей.")],
    "perpetrators": [("perpetrators.0.role", "RecruiterOrIntermediary")],
    "statistics": [("statistics.age_band", "27--29"), ("statistics.sex", "Feminine"),
                   ("statistics.citizenship", "BY"), ("statistics.year", "2026")],
}
#: Latin words a page in Russian or Belarusian may still show: what was typed, usernames, language names.
NOT_ENGLISH = {"Olga", "Sidorova", "English", "legal", "brest", "caseworker", "moi", "iom", "shelter", "minsk",
               "NRM", "TOTP", "FreeOTP", "Aegis", "ISO", "UTC", "QR",
               "Facebook", "Instagram", "Telegram", "TikTok", "Viber", "WhatsApp"}  # the code list's own names
#: The test server's own authority (tests/serving.py: its auditor's agency) has only an English name.
SERVERS_AGENCY = re.compile(r"Agency agency-[0-9a-f]{8}")
#: Ed25519 only; the write headers' own parameters (htm, htu, jti, iat, nrm_user) are the service's to check.
REGISTRY = jws.JWSRegistry(algorithms=["Ed25519"], strict_check_header=False)
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory, catalogs: None) -> Iterator[Callable[[str], Network]]:
    """A served instance per backend with the demo network seeded (``nrm-api demo setup``'s), started on first use.

    Each run signs its people in for the first time: a run gets the network of a backend no run used yet
    where it can, else a new one (the demo's people, new again).
    """
    with ExitStack() as stack:
        def on(backend: str) -> Network:
            backend = backend if backend in _backends() else "sqlite"
            web = stack.enter_context(serve_web(backend, tmp_path_factory.mktemp(f"flow-{backend}")))
            with web.with_app():
                accounts = demo.seed(tmp_path_factory.mktemp(f"demo-{backend}"))
            return web, {user["username"]: (user["username"], user["password"]) for user in accounts["users"]}
        yield on


class Desk:
    """One person at their own browser: signed in once, pages checked and photographed as they go."""

    def __init__(self, page: Any, who: str, lang: str, javascript: bool, shot: Shot, seen: list[tuple[str, str]]):
        self.page, self.who, self.lang, self.javascript, self._shot, self.seen = page, who, lang, javascript, shot, seen

    def look(self, name: str) -> None:
        """Check the page in front of this person (axe-core, language) and photograph it."""
        self.page.wait_for_load_state("load")
        if self.javascript:
            axe_check(self.page)
        self.seen.append((self.page.url, SERVERS_AGENCY.sub("", self.page.inner_text("body"))))
        self._shot(self.page, f"{self.who}-{name}")

    def go(self, path: str, name: str) -> None:
        self.page.goto(path)
        self.look(name)

    def press(self, selector: str, name: str) -> None:
        """Click a button or link that loads a new page, then look at it."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.look(name)

    def sign_in_first_time(self, username: str, password: str) -> None:
        """Password, then TOTP enrolment (the key shown as text is typed into an 'app': totp_now)."""
        self.go("/login", "sign-in")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.press("main button[type=submit]", "enrol")
        secret = self.page.inner_text("#totp-secret")
        self.seen[-1] = (self.seen[-1][0], self.seen[-1][1].replace(secret, ""))  # the key is no English
        self.page.fill("#otp", totp_now(secret))
        self.press("main button[type=submit]", "signed-in")

    def move(self, referral_id: str, status: str) -> None:
        """On the referral's page, press the button of the move to ``status`` (the page comes back)."""
        if not self.page.url.endswith(f"/referrals/{referral_id}"):
            self.go(f"/referrals/{referral_id}", f"referral-{referral_id[:8]}")
        self.press(f"button[name=status][value={status}]", f"referral-{status}")
        assert self.page.locator(f".facts .status-{status}").count() == 1, (self.who, status)

    def status_on_sent(self, referral_id: str) -> str:
        """The status the Sent page shows for the referral (its code, from the row's class)."""
        self.go("/sent", "sent")
        row = self.page.locator("tr", has=self.page.locator(f"a[href='/referrals/{referral_id}']"))
        classes = row.locator("span.status").get_attribute("class") or ""
        return next(name.removeprefix("status-") for name in classes.split() if name.startswith("status-"))

    def refer(self, purpose: str, to: str, services: tuple[str, ...] = (), region: str = "", note: str = "") -> str:
        """From the form's page: Refer, choose, find recipients, choose ``to``, send; the new referral's id."""
        self.press("a[href$='/refer']", "refer")
        self.page.check(f"input[name=purpose][value={purpose}]")
        for service in services:
            self.page.check(f"input[name=services][value={service}]")
        if region:
            self.page.select_option("[name=region]", region)
            self.page.check("input[name=vacant]")
        self.press("section[aria-labelledby=choose-title] button[type=submit]", f"refer-{purpose}-recipients")
        assert self.page.locator(".consent-no").count() == 0
        self.page.check(f"input[name=to_agency][value={to}]")
        self.page.check("input[name=priority][value=urgent]")
        self.page.fill("#note", note)
        self.press("section[aria-labelledby=send-title] button[type=submit]", f"referred-{to}")
        assert re.search(r"/referrals/[0-9a-f-]{36}$", self.page.url), self.page.url
        return str(self.page.url.rsplit("/", 1)[-1])


@contextmanager
def desks(browser: Any, web: WebServer, lang: str, javascript: bool, shot: Shot,
          seen: list[tuple[str, str]]) -> Iterator[Callable[[str], Desk]]:
    """A browser context per person; at the end none saw a script error or a CSP violation."""
    errors: list[str] = []
    with ExitStack() as stack:
        def desk(who: str) -> Desk:
            context = browser.new_context(java_script_enabled=javascript, locale=LOCALES[lang], base_url=web.base,
                                          viewport={"width": 1280, "height": 900})
            stack.callback(context.close)
            context.on("weberror", lambda error: errors.append(str(error.error)))
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
            return Desk(page, who, lang, javascript, shot, seen)
        yield desk
    assert errors == [], errors


@pytest.mark.parametrize(("backend", "lang", "javascript"), RUNS,
                         ids=[f"{b}-{lang}-{'js' if js else 'nojs'}" for b, lang, js in RUNS])
def test_the_belarus_flow_through_the_pages(networks: Callable[[str], Network], browser: Any, shot: Shot,
                                            backend: str, lang: str, javascript: bool) -> None:
    web, people = networks(backend)
    seen: list[tuple[str, str]] = []
    with desks(browser, web, lang, javascript, shot, seen) as desk:
        ngo, moi, iom, shelter = (desk(who) for who in ("legal-brest", "moi", "iom", "shelter-minsk"))
        for person, username in ((ngo, "legal-brest-caseworker"), (moi, "moi-caseworker"),
                                 (iom, "iom-caseworker"), (shelter, "shelter-minsk-caseworker")):
            person.sign_in_first_time(*people[username])

        # Brest legal aid: the form, step by step, checked and submitted, then referred to the Ministry
        ngo.go("/forms", "forms")
        ngo.press("a[href='/forms/new']", "step-consent")
        for step in STEPS:
            assert f"/{step}" in ngo.page.url, (step, ngo.page.url)
            fill_step(ngo.page, ANSWERS[step])
            ngo.press('button[name="action"][value="continue"]', f"step-{step}-saved")
        assert ngo.page.url.endswith("/check")
        assert "Ольга" in ngo.page.inner_text("main")
        ngo.press('button[name="action"][value="submit"]', "form")
        form_id = ngo.page.url.rsplit("/", 1)[-1]
        to_moi = ngo.refer("identification", "moi", note="Нужен переводчик.")
        assert ngo.status_on_sent(to_moi) == "requested"

        # the Ministry: accepts, records the decision on the form's page, refers to IOM for assistance
        moi.go("/inbox", "inbox")
        moi.press(f"a[href='/referrals/{to_moi}']", "referral")
        assert "Ольга" in moi.page.inner_text("main")  # the form as disclosed to the Ministry
        moi.move(to_moi, "accepted")
        assert ngo.status_on_sent(to_moi) == "accepted"
        moi.press(f"a[href='/forms/{form_id}']", "form")
        moi.page.select_option('[name="decision.trafficking_status"]', "ActualVictimOfTrafficking")
        moi.press('button[name="action"][value="decide"]', "form-decided")
        to_iom = moi.refer("assistance", "iom", services=("reintegration_grant",))
        moi.move(to_moi, "in-progress")
        assert ngo.status_on_sent(to_moi) == "in-progress"

        # IOM: accepts, refers to the Minsk shelter for accommodation (a region, a place free)
        iom.go("/inbox", "inbox")
        iom.press(f"a[href='/referrals/{to_iom}']", "referral")
        iom.move(to_iom, "accepted")
        assert moi.status_on_sent(to_iom) == "accepted"
        iom.press(f"a[href='/forms/{form_id}']", "form")
        to_shelter = iom.refer("assistance", "shelter-minsk", services=("accommodation",), region="MinskCity")

        # the shelter: received, accepted, in progress, completed; IOM's Sent page follows each
        shelter.go("/inbox", "inbox")
        shelter.press(f"a[href='/referrals/{to_shelter}']", "referral")
        for status in ("received", "accepted", "in-progress", "completed"):
            shelter.move(to_shelter, status)
            events = shelter.page.locator(".history-event").count()
            # a check mark on every event while the shelter may read the history (a completed one ends that)
            assert shelter.page.locator(".check").count() == (events if status != "completed" else 0), status
            assert iom.status_on_sent(to_shelter) == status
        assert shelter.page.locator(".history-event").count() == 5
        iom.move(to_iom, "in-progress")
        iom.move(to_iom, "completed")
        moi.move(to_moi, "completed")
        assert ngo.status_on_sent(to_moi) == "completed"
        assert moi.status_on_sent(to_iom) == "completed"

    steps = {"legal-brest-caseworker": [("form:create", f"form:{form_id}"), ("referral:create", f"referral:{to_moi}")],
             "moi-caseworker": [("referral:update", f"referral:{to_moi}"), ("form:decide", f"form:{form_id}"),
                                ("referral:create", f"referral:{to_iom}")],
             "iom-caseworker": [("referral:update", f"referral:{to_iom}"),
                                ("referral:create", f"referral:{to_shelter}")],
             "shelter-minsk-caseworker": [("referral:update", f"referral:{to_shelter}")]}
    for username, expected in steps.items():
        done = {(event["action"], event["resource"]) for event in web.events(actor=f"user:{username}")
                if event["outcome"] == "allowed"}
        assert set(expected) <= done, (username, set(expected) - done)
    moves = [event for event in web.events(actor="user:shelter-minsk-caseworker", action="referral:update")
             if event["resource"] == f"referral:{to_shelter}"]
    assert len(moves) == 4  # one audit event per status change

    _signatures_verify(web, form_id, {to_moi: "legal-brest", to_iom: "moi", to_shelter: "iom"})
    if lang != "en":
        left = {(url, word) for url, text in seen for word in LATIN_WORD.findall(text) if word not in NOT_ENGLISH}
        assert not left, "\n".join(f"{url}: {word}" for url, word in sorted(left))


def _signatures_verify(web: WebServer, form_id: str, senders: dict[str, str]) -> None:
    """Every signature of the flow verifies with the signer's agency's hosted key and names the person.

    Read from storage (the referrals are over: no agency may open their events now), checked with joserfc.
    """
    with web.with_app():
        keys = {key.kid: OKPKey.import_key(key.jwk) for key in db.session.scalars(select(ClientKey))}
        version = db.session.scalars(select(FormVersion).where(FormVersion.form_id == form_id)).one()
        document = forms.read(Actor(subject="user:legal-brest-caseworker", agency="legal-brest", role="caseworker"),
                              form_id)[0]["document"]
        _verify(keys, version.signature, document, "legal-brest", "user:legal-brest-caseworker")
        decision = db.session.scalars(select(FormDecision).where(FormDecision.form_id == form_id)).one()
        _verify(keys, decision.signature, {"trafficking_status": "ActualVictimOfTrafficking"}, "moi",
                "user:moi-caseworker")
        form = db.session.get(Form, form_id)
        for referral_id, sender in senders.items():  # the stored events, their bodies opened with the form's key
            referral = db.session.get(Referral, referral_id)
            events = queries._events(referral)
            bodies = queries._bodies(referral, form, events)
            assert [event.agency_id for event in events] == [sender] + [referral.to_agency] * (len(events) - 1)
            for event in events:
                _verify(keys, event.signature, bodies[event.sequence], event.agency_id, event.actor)


def _verify(keys: dict[str, OKPKey], signature: str, body: Any, agency: str, user: str) -> None:
    head, _, sig = signature.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header["kid"].startswith(f"hosted:{agency}:") and header["nrm_user"] == user, header
    payload = base64.urlsafe_b64encode(rfc8785.dumps(body)).rstrip(b"=").decode()
    jws.deserialize_compact(f"{head}.{payload}.{sig}", keys[header["kid"]], registry=REGISTRY)
