"""A caseworker's submission through the web form's pages (`make bench`): what it costs the service in time.

- web.submission: one whole form by a signed-in caseworker, as a browser sends it: ``/forms/new``,
  each step shown and saved (eight), the check page, the submission (signed with the agency's hosted
  key), the form shown — p50/p95 of the whole, and the median of a step's save and of the submission.

The pages are served in process (Flask's test client): the time is the service's own, no network.
"""

from __future__ import annotations

import re
import secrets
import time

from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.crypto.passwords import totp_now
from nrm_api.web.form_definition import STEPS

from .common import bench_app, figure, note, percentile, postgres_database, sized

FORMS = sized("BENCH_WEB_FORMS", 20, 5)
OPERATOR = Actor("cli:bench", role="operator")
PASSWORD = secrets.token_urlsafe(16)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: What each step posts: an adult who consented to everything (as tests/web/test_form_pages.py fills it).
STEP_DATA: dict[str, list[tuple[str, str]]] = {
    "consent": [("consent.purposes.identification", "true"), ("consent.purposes.assistance", "true"),
                ("consent.purposes.data_sharing", "true"), ("consent.purposes.statistics", "true"),
                ("consent.recipients", "kind:authority"), ("consent.obtained_at", "2026-11-20T10:00"),
                ("consent.obtained_by", "caseworker"), ("consent.method", "written"), ("consent.language", "ru")],
    "screening": [("screening.detected_by", "NGO"), ("screening.detected_on", "2026-11-20")],
    "person": [("person.first_name", "Ivan"), ("person.second_name", "Petrov"), ("person.birthdate", "1998-07-14"),
               ("person.gender", "Masculine"), ("person.citizenship", "BY")],
    "child": [],
    "exploitation": [("exploitation.types_of_exploitation", "ForcedLabour"),
                     ("exploitation.locations.0.type", "Recruitment"), ("exploitation.locations.0.country", "BY")],
    "account": [("account.narrative", "Recruited through an online advert for construction work.")],
    "perpetrators": [("perpetrators.0.role", "RecruiterOrIntermediary")],
    "statistics": [("statistics.age_band", "27--29"), ("statistics.sex", "Masculine"), ("statistics.year", "2026")],
}


def _token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found[1]


def _sign_in(client: FlaskClient, username: str, password: str, secret: str) -> None:
    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": username, "password": password, "csrf_token": _token(login)})
    step = client.get("/login").get_data(as_text=True)
    answer = client.post("/login", data={"otp": totp_now(secret), "csrf_token": _token(step)})
    assert answer.status_code == 303, answer.status_code


def _submission(client: FlaskClient, saves: list[float], submits: list[float]) -> None:
    """One form through every page, as a browser would load and post them."""
    draft = client.get("/forms/new").headers["Location"].rsplit("/", 1)[0]
    for step in STEPS:
        page = client.get(f"{draft}/{step}").get_data(as_text=True)
        started = time.perf_counter()
        saved = client.post(f"{draft}/{step}", data=MultiDict([*STEP_DATA[step], ("action", "continue"),
                                                                ("csrf_token", _token(page))]))
        saves.append((time.perf_counter() - started) * 1000)
        assert saved.status_code == 303, (step, saved.status_code)
    check = client.get(f"{draft}/check").get_data(as_text=True)
    started = time.perf_counter()
    submitted = client.post(f"{draft}/check", data={"action": "submit", "csrf_token": _token(check)})
    submits.append((time.perf_counter() - started) * 1000)
    assert submitted.status_code == 303, submitted.status_code
    assert client.get(submitted.headers["Location"]).status_code == 200


def main() -> None:
    """Print the web submission's figures."""
    with postgres_database() as url, bench_app(url) as (app, _ring):
        with app.app_context():
            agencies.add_agency(OPERATOR, "bench-ngo", kind="ngo", name_en="Bench NGO", regions=("Minsk",))
            _, uri = admin.add_user(OPERATOR, "bench-caseworker", agency_id="bench-ngo", role="caseworker",
                                    password=PASSWORD, totp=True)
        secret = str(uri).split("secret=")[1].split("&")[0]
        client = app.test_client()
        _sign_in(client, "bench-caseworker", PASSWORD, secret)
        note(f"web: {FORMS} forms through the pages, each eight steps, a check and a submission")
        _submission(client, [], [])  # warm: the hosted key is made on first use
        wholes, saves, submits = [], [], []
        for _ in range(FORMS):
            started = time.perf_counter()
            _submission(client, saves, submits)
            wholes.append((time.perf_counter() - started) * 1000)
        figure("web.submission", whole_p50_ms=round(percentile(wholes, 0.5), 1),
               whole_p95_ms=round(percentile(wholes, 0.95), 1), step_save_p50_ms=round(percentile(saves, 0.5), 1),
               submit_p50_ms=round(percentile(submits, 0.5), 1), forms=FORMS, steps=len(STEPS))


if __name__ == "__main__":
    main()
