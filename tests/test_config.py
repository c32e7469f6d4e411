"""The app refuses to start without its secrets; no default secret exists in code."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from nrm_api import create_app
from nrm_api.config import ConfigError, Settings
from nrm_api.crypto.errors import KeyringError
from nrm_api.crypto.keyring import Keyring
from tests.conftest import settings


def test_no_secret_key_no_start(keyring_path: Path) -> None:
    with pytest.raises(ConfigError, match="NRM_SECRET_KEY"):
        create_app(settings("sqlite://", keyring_path, SECRET_KEY=None))
    with pytest.raises(ConfigError, match="NRM_SECRET_KEY"):
        create_app(settings("sqlite://", keyring_path, SECRET_KEY="short"))


def test_no_keyring_no_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keys init"):
        create_app(settings("sqlite://", tmp_path / "absent.json"))


def test_access_tokens_may_not_outlive_ten_minutes(keyring_path: Path) -> None:
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_SECONDS"):
        create_app(settings("sqlite://", keyring_path, ACCESS_TOKEN_SECONDS=3600))


def test_settings_come_from_nrm_variables(monkeypatch: pytest.MonkeyPatch, keyring_path: Path) -> None:
    monkeypatch.setenv("NRM_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("NRM_KEYRING", str(keyring_path))
    monkeypatch.setenv("NRM_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("NRM_BASE_URL", "https://nrm.example.by/")
    app = create_app()
    assert app.config["BASE_URL"] == "https://nrm.example.by"
    assert app.config["JWT_DECODE_AUDIENCE"] == "https://nrm.example.by"
    held = app.extensions["nrm_settings"]  # what the services read, made once here
    assert held == Settings.of(app.config) and held.base_url == "https://nrm.example.by"
    assert "s" * 40 not in repr(held)  # the secret never shows in a repr (a log line, a traceback)
    with pytest.raises(FrozenInstanceError):
        held.base_url = "https://elsewhere.example"


def test_no_base_url_no_start(monkeypatch: pytest.MonkeyPatch, keyring_path: Path) -> None:
    with pytest.raises(ConfigError, match="NRM_BASE_URL"):
        create_app(settings("sqlite://", keyring_path, BASE_URL=None))
    monkeypatch.setenv("NRM_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("NRM_KEYRING", str(keyring_path))
    monkeypatch.setenv("NRM_DATABASE_URL", "sqlite://")
    monkeypatch.delenv("NRM_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="NRM_BASE_URL"):
        create_app()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660])
def test_a_keyring_others_may_open_is_refused(tmp_path: Path, mode: int) -> None:
    ring = Keyring.create(tmp_path / "keyring.json")
    assert ring.path.stat().st_mode & 0o777 == 0o600
    ring.path.chmod(mode)
    with pytest.raises(KeyringError, match=f"chmod 600 {ring.path}"):
        create_app(settings("sqlite://", ring.path))
    ring.path.chmod(0o600)
    create_app(settings("sqlite://", ring.path))


@pytest.mark.parametrize("url", ["not a url", "nrm.example.by", "ftp://nrm.example.by", "https://",
                                 "https://nrm.example.by/?x=1", "https://u:p@nrm.example.by", "https://nrm.example.by\n"])
def test_a_base_url_that_is_not_an_absolute_http_url_is_refused(keyring_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="absolute http"):
        create_app(settings("sqlite://", keyring_path, BASE_URL=url))
