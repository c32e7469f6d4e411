"""nrm-api: the exchange of a National Referral Mechanism. ``create_app`` only wires."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_app_context
from werkzeug.middleware.proxy_fix import ProxyFix

from . import boundary, config, http, observe, web
from .accounts import tokens
from .accounts.service import OAuthError
from .audit import events as audit_events
from .audit.background import Background
from .crypto.keyring import Keyring
from .extensions import Api, db, jwt, limiter
from .openapi import OPENAPI_SETTINGS, register_components
from .webhooks import deliver, outbox
from .worker import Worker


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Create the app from ``NRM_*`` settings (``overrides`` on top, for tests)."""
    app = Flask(__name__, instance_relative_config=False, static_folder=None)  # the web form serves its own
    app.config.update(config.settings(overrides))
    app.config.update(OPENAPI_SETTINGS)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.extensions["nrm_settings"] = config.Settings.of(app.config)
    app.extensions["nrm_keyring"] = Keyring.load(app.config["KEYRING"])
    if app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_COUNT"])  # type: ignore[method-assign]
    tokens.configure(app)
    db.init_app(app)
    app.extensions["nrm_audit_background"] = Background(app, app.config["AUDIT_SEQUENCER_INTERVAL"])
    audit_events.install()
    audit_events.events_committed.connect(_wake_sequencer)
    app.extensions["nrm_webhook_worker"] = Worker(app, app.config["WEBHOOK_INTERVAL"], deliver.run, "nrm-webhooks",
                                                   outbox.CHANNEL)
    outbox.install()
    outbox.outbox_committed.connect(_wake_deliverer)
    jwt.init_app(app)
    limiter.init_app(app)
    api = Api(app)
    boundary.init_app(app)
    observe.init_app(app)  # before http's hooks: its clock starts first and its log line comes last
    http.init_app(app)
    _register(app, api)
    web.init_app(app)
    return app


def _wake(worker: str) -> None:
    """Wake the current app's background worker (a commit in no app, a script's, wakes none)."""
    if has_app_context():
        found: Worker | None = current_app.extensions.get(worker)
        if found is not None:
            found.notify()


def _wake_sequencer(_session: object) -> None:
    _wake("nrm_audit_background")


def _wake_deliverer(_session: object) -> None:
    _wake("nrm_webhook_worker")


def _register(app: Flask, api: Api) -> None:
    from .accounts.views import blp as auth_blp
    from .accounts.views import oauth_error
    from .agencies.views import blp as agencies_blp
    from .audit.views import blp as audit_blp
    from .forms.views import blp as forms_blp
    from .forms.views import drafts_blp, exports_blp, vocabulary_blp
    from .referrals.views import blp as referrals_blp
    from .referrals.views import changes_blp, transfers_blp
    from .statistics.views import blp as statistics_blp
    from .webhooks.views import blp as webhooks_blp
    from .wellknown import blp as wellknown_blp
    from .wellknown import bp as wellknown_bp

    register_components(api)
    api.register_blueprint(auth_blp)
    api.register_blueprint(agencies_blp)
    api.register_blueprint(audit_blp)
    api.register_blueprint(forms_blp)
    api.register_blueprint(drafts_blp)
    api.register_blueprint(vocabulary_blp)
    api.register_blueprint(exports_blp)
    api.register_blueprint(referrals_blp)
    api.register_blueprint(transfers_blp)
    api.register_blueprint(changes_blp)
    api.register_blueprint(statistics_blp)
    api.register_blueprint(webhooks_blp)
    api.register_blueprint(wellknown_blp)
    app.register_blueprint(wellknown_bp)
    app.register_error_handler(OAuthError, oauth_error)
