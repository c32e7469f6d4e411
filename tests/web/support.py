"""What web tests share: the served app, a plain HTTP client with cookies, signing in, axe-core.

Page authors: sign in with ``sign_in(page, web, user)`` (browser) or ``http.sign_in(user)`` (HTTP),
make people with ``web.add_user(role, kind=…)``, read the audit log with ``web.events(...)``, and call
``axe(page)`` on every page a browser test visits.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask

from nrm_api import create_app
from nrm_api.crypto.passwords import totp_now
from tests.conftest import ROOT_DIR, audit_events, create_agency, create_user, dispose, settings
from tests.serving import Server, serve

CHROMIUM = "/usr/bin/chromium"
#: Headless, and nothing of the browser's own that talks to outside hosts.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT_DIR / "node_modules" / "axe-core" / "axe.min.js"
TRANSLATIONS = ROOT_DIR / "nrm_api" / "web" / "translations"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def compile_catalogs() -> None:
    """Compile each committed .po into its .mo where that is missing or older (what `make translations` does)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parts[-3])
        with mo.open("wb") as target:
            write_mo(target, catalog)


def missing_browser() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is absent (make system-packages installs it)"
    if not AXE.is_file():
        return "axe-core is not installed (make runs npm ci)"
    return None


@dataclass
class WebServer:
    """A served app and a handle on its database for making people and reading the log."""

    server: Server
    app: Flask
    users: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The server's address, ``http://127.0.0.1:PORT``."""
        return self.server.base

    def add_user(self, role: str = "caseworker", *, kind: str = "ngo", agency: str | None = None,
                 totp: bool = True) -> dict[str, Any]:
        """A new person (in a new agency of ``kind`` unless ``agency``): username, password, secret, agency."""
        with self.app.app_context():
            user = create_user(role, agency or create_agency(kind=kind), totp=totp)
        self.users.append(user)
        return user

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """The server's audit events matching ``filters`` (column = value), oldest first."""
        with self.app.app_context():
            return [{column: getattr(event, column) for column in
                     ("actor", "agency", "action", "resource", "outcome", "reason", "request_id")}
                    for event in audit_events(**filters)]

    def with_app(self) -> Any:
        """An app context on the server's database (for a test's own queries)."""
        return self.app.app_context()


@contextmanager
def serve_web(backend: str, folder: Path, env: dict[str, str] | None = None) -> Iterator[WebServer]:
    """Serve a new instance for web tests (``env``: more ``NRM_*`` settings); stopped at the end."""
    with serve(backend, folder, workers=1, systems=0, extra_env=(lambda _url: env) if env else None) as server:
        app = create_app(settings(server.database_url, Path(server.env["NRM_KEYRING"]), BASE_URL=server.base))
        try:
            yield WebServer(server, app)
        finally:
            dispose(app)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    """One HTTP answer: status, headers, text."""

    status: int
    headers: Any
    text: str

    @property
    def location(self) -> str | None:
        """Where a redirect points, as the server wrote it."""
        value = self.headers.get("Location")
        return str(value) if value is not None else None

    def csrf(self) -> str:
        """The CSRF token of the page's first form."""
        found = CSRF.search(self.text)
        assert found, "no csrf_token on the page"
        return found.group(1)


class Http:
    """A plain HTTP client of one server keeping its cookies; redirects are answers, not followed."""

    def __init__(self, base: str, accept_language: str = "en") -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.accept_language = accept_language

    def request(self, method: str, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        """Send one request; a form body is url-encoded (lists send one value each)."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        sent = {"Accept-Language": self.accept_language, **(headers or {})}
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.base + path, data=body, headers=sent, method=method)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read().decode(errors="replace"))

    def get(self, path: str, **kwargs: Any) -> Answer:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], **kwargs: Any) -> Answer:
        """POST a form to ``path``."""
        return self.request("POST", path, data, **kwargs)

    def submit(self, path: str, data: dict[str, Any], *, page: str | None = None) -> Answer:
        """POST ``data`` to ``path`` with the CSRF token of the form at ``page`` (``path`` by default)."""
        token = self.get(page or path).csrf()
        return self.post(path, {**data, "csrf_token": token})

    def cookie(self, name: str) -> str | None:
        """The value of a cookie the server set."""
        return next((cookie.value for cookie in self.jar if cookie.name == name), None)

    def sign_in(self, user: dict[str, Any], *, at: float | None = None) -> Answer:
        """Sign in through /login (password, then the code when enrolled); the last answer (a 303).

        ``at``: the moment whose code to send (``time.time() + 30``, the next step's, is accepted too: a
        second sign-in of one account within 30 seconds needs it, since a code is good once).
        """
        answer = self.submit("/login", {"username": user["username"], "password": user["password"]})
        if user.get("secret") and answer.status == 303 and answer.location and "/login" in answer.location:
            answer = self.submit("/login", {"otp": totp_now(user["secret"], at)})
        return answer


def fill_step(page: Any, data: list[tuple[str, str]]) -> None:
    """Type a step's answers as a person would: tick boxes, choose options, type text."""
    for name, value in data:
        control = page.locator(f'[name="{name}"]')
        kind = control.first.evaluate("e => e.type")
        if kind == "checkbox":
            page.check(f'[name="{name}"][value="{value}"]')
        elif kind == "select-one":
            control.select_option(value)
        elif control.count() > 1:  # several texts of one name (citizenships, agency ids): the first empty one
            empty = next(i for i in range(control.count()) if control.nth(i).input_value() == "")
            control.nth(empty).fill(value)
        else:
            control.fill(value)


def sign_in(page: Any, user: dict[str, Any], next_path: str = "/") -> None:
    """Sign in with the browser, through the forms as a person would (then wait for the next page)."""
    page.goto(f"/login?next={urllib.parse.quote(next_path)}" if next_path != "/" else "/login")
    page.fill("#username", user["username"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]:not(.button-secondary)")
    if user.get("secret"):
        page.wait_for_selector("#otp")
        page.fill("#otp", totp_now(user["secret"]))
        page.click("button[type=submit]:not(.button-secondary)")
    page.wait_for_load_state("load")


#: axe-core impacts that fail a test.
FAILING_IMPACTS = {"serious", "critical"}


def axe_check(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on ``page``; fail listing every serious or critical violation; return the minor ones.

    axe-core is evaluated in the page (``add_script_tag`` would be an inline script the CSP refuses).

    It needs JavaScript in the page: on a page whose ``javascript_on`` is False (``page_nojs``) it opens
    the same address in a JavaScript context of the same browser, with the same cookies, and checks that.
    """
    if getattr(page, "javascript_on", True):
        return _run_axe(page)
    checked = page.context.browser.new_context(base_url=None, locale="en-GB")
    try:
        checked.add_cookies(page.context.cookies())
        other = checked.new_page()
        other.goto(page.url)
        return _run_axe(other)
    finally:
        checked.close()


def _run_axe(page: Any) -> list[dict[str, Any]]:
    # not add_script_tag: the pages' CSP refuses inline scripts (as it should); evaluation by the
    # DevTools protocol is the tester's, outside the page's policy
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = result["violations"]
    failing = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5])
               for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core on {page.url}: {failing}"
    return list(violations)
