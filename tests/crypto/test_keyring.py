"""The local keyring file: every holder sees a change made elsewhere, and a file others may open is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from nrm_api.crypto.envelope import new_dek
from nrm_api.crypto.errors import KeyringError
from nrm_api.crypto.keyring import Keyring


def test_a_rotation_made_by_another_process_is_seen_without_reloading(tmp_path: Path) -> None:
    worker = Keyring.create(tmp_path / "keyring.json")
    operator = Keyring.load(worker.path)  # as `nrm-api keys rotate` loads it, in its own process
    dek = new_dek()
    old = worker.wrap_dek(dek, "form:f-1")
    assert operator.rotate_kek() == 2
    assert worker.current_kek_version == 2
    new = worker.wrap_dek(dek, "form:f-2")
    assert new[0] == 2 and operator.unwrap_dek(*new, "form:f-2") == dek
    operator.retire_kek(1)
    assert worker.kek_versions == [2]
    with pytest.raises(KeyringError, match="retired"):
        worker.unwrap_dek(*old, "form:f-1")


def test_two_operators_rotating_do_not_lose_each_others_version(tmp_path: Path) -> None:
    first = Keyring.create(tmp_path / "keyring.json")
    second = Keyring.load(first.path)
    assert first.rotate_kek() == 2
    assert second.rotate_kek() == 3
    assert Keyring.load(first.path).kek_versions == [1, 2, 3]
    assert first.path.stat().st_mode & 0o777 == 0o600


def test_a_keyring_opened_to_others_after_loading_stops_being_used(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keyring.json")
    assert ring.current_kek_version == 1
    ring.path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        ring.wrap_dek(new_dek(), "form:f-1")
    ring.path.chmod(0o600)
    assert ring.wrap_dek(new_dek(), "form:f-1")[0] == 1
