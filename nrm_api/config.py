"""Configuration, read from ``NRM_*`` environment variables in this one place.

There is no default for any secret: without ``NRM_SECRET_KEY``, a keyring and ``NRM_BASE_URL`` the app
refuses to start. ``make run`` generates all three under ``instance/`` for the demo (``demo.env``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ACCESS_TOKEN_MAX_SECONDS = 600
#: Who may read /metrics unless NRM_METRICS_ALLOW says otherwise: this host only.
DEFAULT_METRICS_ALLOW = "127.0.0.1,::1"
LOG_FORMATS = ("json", "text")
#: The statistics' threshold by default (CTDC's), and the lowest the service accepts.
STATISTICS_K, STATISTICS_K_MINIMUM = 11, 5


class ConfigError(RuntimeError):
    """The configuration is missing something the service cannot run without."""


def _instance_path() -> Path:
    return Path(os.environ.get("NRM_INSTANCE_PATH", "instance")).resolve()


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the app's settings from ``NRM_*`` variables."""
    env = os.environ if environ is None else environ
    instance = _instance_path()
    token_seconds = int(env.get("NRM_ACCESS_TOKEN_SECONDS", "600"))
    # no default: a guessed URL would be the audience tokens are checked against (the demo writes its own)
    base_url = env.get("NRM_BASE_URL", "").rstrip("/")
    return {
        "SECRET_KEY": env.get("NRM_SECRET_KEY"),
        "DATABASE_URL": env.get("NRM_DATABASE_URL", f"sqlite:///{instance / 'nrm.db'}"),
        #: The sequencer's own connection (PostgreSQL: a member of ``nrm_sequencer``); the web's by default.
        "SEQUENCER_DATABASE_URL": env.get("NRM_SEQUENCER_DATABASE_URL") or None,
        "KEYRING": env.get("NRM_KEYRING", str(instance / "keyring.json")),
        "BASE_URL": base_url,
        #: The audit log's name in its checkpoints (C2SP origin line).
        "AUDIT_ORIGIN": env.get("NRM_AUDIT_ORIGIN", f"{urlsplit(base_url).netloc}/audit-log"),
        #: Unauthenticated refusals per address in a window before 429; a window's repeats are logged as one count.
        "UNAUTHENTICATED_LIMIT": int(env.get("NRM_UNAUTHENTICATED_LIMIT", "60")),
        "AUDIT_REFUSAL_WINDOW": float(env.get("NRM_AUDIT_REFUSAL_WINDOW", "60")),
        #: Seconds between sequencer runs in each process; 0 runs it only from `nrm-api audit sequence`.
        "AUDIT_SEQUENCER_INTERVAL": float(env.get("NRM_AUDIT_SEQUENCER_INTERVAL", "1")),
        "REDIS_URL": env.get("NRM_REDIS_URL") or None,
        #: Prefix of this deployment's keys in Redis (sign-in limits), for a Redis shared with others.
        "REDIS_KEY_PREFIX": env.get("NRM_REDIS_PREFIX", "nrm:"),
        "ACCESS_TOKEN_SECONDS": token_seconds,
        "PROXY_COUNT": int(env.get("NRM_PROXY_COUNT", "0")),
        #: Addresses and networks that may read /metrics (comma-separated); everyone else gets a 404.
        "METRICS_ALLOW": env.get("NRM_METRICS_ALLOW", DEFAULT_METRICS_ALLOW),
        #: ``json`` (one JSON object a line: the default) or ``text``, for the server's logs.
        "LOG_FORMAT": env.get("NRM_LOG_FORMAT", "json").strip().lower() or "json",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        #: Seconds between webhook deliverer runs in each process; 0 leaves it to `nrm-api webhooks deliver`.
        "WEBHOOK_INTERVAL": float(env.get("NRM_WEBHOOK_INTERVAL", "2")),
        #: Let webhooks go to private, loopback and link-local addresses and over plain http (test networks).
        "WEBHOOK_ALLOW_PRIVATE": env.get("NRM_WEBHOOK_ALLOW_PRIVATE", "").lower() in ("1", "true", "yes"),
        #: How long a deliverer holds a webhook it is sending before another may take it.
        "WEBHOOK_LEASE_SECONDS": int(env.get("NRM_WEBHOOK_LEASE_SECONDS", "120")),
        #: The web form's cookies carry ``Secure`` (sent over https only); by default when NRM_BASE_URL is https.
        "WEB_COOKIE_SECURE": _flag(env.get("NRM_WEB_COOKIE_SECURE"), base_url.startswith("https://")),
        #: Statistics withhold every count below this (CTDC's 11 by default; never below 5).
        "STATISTICS_K": env.get("NRM_STATISTICS_K", str(STATISTICS_K)),
    }


def _flag(value: str | None, default: bool) -> bool:
    """A yes/no setting: ``1``/``true``/``yes`` or ``0``/``false``/``no``; unset is ``default``."""
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes")


def validate(config: Mapping[str, Any]) -> None:
    """Refuse to start without the secrets, or with settings outside what the contract allows."""
    secret = config.get("SECRET_KEY")
    if not secret or len(str(secret)) < 32:
        raise ConfigError("NRM_SECRET_KEY must be set to a random value of at least 32 characters")
    if not config.get("BASE_URL"):
        raise ConfigError("NRM_BASE_URL must be set to the service's public URL (for example "
                          "https://nrm.example.by): client assertions name it as their audience")
    _check_base_url(str(config["BASE_URL"]))
    keyring = str(config.get("KEYRING") or "")
    if not keyring.startswith("pkcs11:") and not Path(keyring).is_file():
        raise ConfigError(f"no keyring at NRM_KEYRING ({keyring}): create one with `nrm-api keys init`")
    seconds = config["ACCESS_TOKEN_SECONDS"]
    if not 0 < seconds <= ACCESS_TOKEN_MAX_SECONDS:
        raise ConfigError(f"NRM_ACCESS_TOKEN_SECONDS must be between 1 and {ACCESS_TOKEN_MAX_SECONDS}")
    metrics_networks(str(config.get("METRICS_ALLOW", DEFAULT_METRICS_ALLOW)))
    if config.get("LOG_FORMAT", "json") not in LOG_FORMATS:
        raise ConfigError(f"NRM_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {config.get('LOG_FORMAT')!r})")
    statistics_k(config.get("STATISTICS_K", STATISTICS_K))


def statistics_k(value: object) -> int:
    """NRM_STATISTICS_K as a number: a whole number, at least 5 (smaller cells would name people)."""
    try:
        k = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"NRM_STATISTICS_K must be a whole number, at least {STATISTICS_K_MINIMUM} "
                          f"(got {value!r})") from None
    if k < STATISTICS_K_MINIMUM:
        raise ConfigError(f"NRM_STATISTICS_K must be at least {STATISTICS_K_MINIMUM} (got {k}): "
                          "smaller counts can point to a person")
    return k


def metrics_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of NRM_METRICS_ALLOW: addresses or CIDRs, comma-separated; empty lets nobody in."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"NRM_METRICS_ALLOW must list addresses or networks (CIDR), comma-separated: "
                              f"{item!r} is neither") from None
    return tuple(networks)


def _check_base_url(url: str) -> None:
    """An absolute http(s) URL with a host and nothing else: the issuer, and the audit log's origin for good."""
    parts = urlsplit(url)
    plain = url.isascii() and not any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url)
    if not plain or parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise ConfigError(f"NRM_BASE_URL must be an absolute http(s) URL with a host and no query, for example "
                          f"https://nrm.example.by (got {url!r}): the audit log keeps its host as its origin for good")


@dataclass(frozen=True)
class Settings:
    """What the services read of the configuration, as plain values: read once when the app is made."""

    #: The issuer, and the audience client assertions name.
    base_url: str
    #: The audit log's origin in its checkpoints.
    audit_origin: str
    #: Unauthenticated refusals per address in a window before 429.
    unauthenticated_limit: int
    #: How long repeats of an unauthenticated refusal are counted before their count is logged.
    audit_refusal_window: timedelta
    #: Webhooks may go to private addresses and over plain http (test networks).
    webhook_allow_private: bool
    #: How long a deliverer holds a webhook it is sending before another may take it.
    webhook_lease: timedelta
    #: The app's secret (device tokens are keyed by it): never in a repr.
    secret_key: str = field(repr=False)
    #: Statistics withhold every count below this.
    statistics_k: int = STATISTICS_K

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Settings:
        """The services' settings out of the app's configuration."""
        return cls(base_url=str(config["BASE_URL"]), audit_origin=str(config["AUDIT_ORIGIN"]),
                   unauthenticated_limit=int(config["UNAUTHENTICATED_LIMIT"]),
                   audit_refusal_window=timedelta(seconds=float(config["AUDIT_REFUSAL_WINDOW"])),
                   webhook_allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]),
                   webhook_lease=timedelta(seconds=float(config["WEBHOOK_LEASE_SECONDS"])),
                   secret_key=str(config["SECRET_KEY"]),
                   statistics_k=statistics_k(config.get("STATISTICS_K", STATISTICS_K)))


#: What each log line carries beside the fields a record adds (the request line: ``observe``).
LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def logging_config(log_format: str = "json") -> dict[str, Any]:
    """``logging.config.dictConfig`` for the server's processes: request lines on stdout, the rest on stderr."""
    if log_format == "json":
        formatter: dict[str, Any] = {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": LOG_FIELDS,
                                     "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}}
    else:
        formatter = {"format": LOG_FIELDS.replace("%(asctime)s %(levelname)s", "%(asctime)s [%(levelname)s]")}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"nrm": formatter},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "nrm", "stream": "ext://sys.stdout"},
            "stderr": {"class": "logging.StreamHandler", "formatter": "nrm", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "nrm_api.requests": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }


def settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings of the environment with ``overrides`` on top, validated."""
    config = from_environ()
    config.update(overrides or {})
    validate(config)
    return config
