"""Envelope encryption: fields bound to their place, DEKs wrapped by versioned KEKs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nrm_api.crypto import CryptoError
from nrm_api.crypto.blind import blind_index, normalise_name
from nrm_api.crypto.envelope import DecryptionError, FieldPlace, new_dek, open_field, seal_field
from nrm_api.crypto.errors import KeyringError
from nrm_api.crypto.keyring import Keyring

PLACE = FieldPlace("form", "f-1", "person.first_name", "1", "shelter-minsk")


@given(st.binary(max_size=2048))
def test_any_value_round_trips_in_its_place(value: bytes) -> None:
    dek = new_dek()
    sealed = seal_field(dek, value, PLACE)
    assert len(value) < 16 or value not in sealed
    assert open_field(dek, sealed, PLACE) == value


@pytest.mark.parametrize("moved", [
    FieldPlace("form", "f-2", "person.first_name", "1", "shelter-minsk"),
    FieldPlace("form", "f-1", "person.last_name", "1", "shelter-minsk"),
    FieldPlace("form", "f-1", "person.first_name", "2", "shelter-minsk"),
    FieldPlace("form", "f-1", "person.first_name", "1", "iom"),
    FieldPlace("referral", "f-1", "person.first_name", "1", "shelter-minsk"),
])
def test_a_ciphertext_moved_to_another_record_or_field_fails(moved: FieldPlace) -> None:
    dek = new_dek()
    sealed = seal_field(dek, b'"Olga"', PLACE)
    with pytest.raises(DecryptionError):
        open_field(dek, sealed, moved)


def test_a_flipped_bit_or_another_key_fails() -> None:
    dek = new_dek()
    sealed = bytearray(seal_field(dek, b'"Olga"', PLACE))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        open_field(dek, bytes(sealed), PLACE)
    with pytest.raises(DecryptionError):
        open_field(new_dek(), seal_field(dek, b"x", PLACE), PLACE)


def test_rotate_rewrap_retire_and_everything_still_opens(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keyring.json")
    dek = new_dek()
    version, wrapped = ring.wrap_dek(dek, "form:f-1")
    sealed = seal_field(dek, b'"Olga"', PLACE)
    new_version = ring.rotate_kek()
    assert new_version == version + 1
    reloaded = Keyring.load(ring.path)
    rewrapped_version, rewrapped = reloaded.wrap_dek(reloaded.unwrap_dek(version, wrapped, "form:f-1"), "form:f-1")
    assert rewrapped_version == new_version
    reloaded.retire_kek(version)
    final = Keyring.load(ring.path)
    assert final.kek_versions == [new_version]
    assert open_field(final.unwrap_dek(new_version, rewrapped, "form:f-1"), sealed, PLACE) == b'"Olga"'
    with pytest.raises(KeyringError):
        final.unwrap_dek(version, wrapped, "form:f-1")
    with pytest.raises(KeyringError):
        final.retire_kek(new_version)
    assert (ring.path.stat().st_mode & 0o777) == 0o600


def test_a_wrapped_dek_is_bound_to_its_record(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keyring.json")
    version, wrapped = ring.wrap_dek(new_dek(), "form:f-1")
    with pytest.raises(CryptoError):
        ring.unwrap_dek(version, wrapped, "form:f-2")


def test_blind_indexes_match_spellings_not_people(tmp_path: Path) -> None:
    key = Keyring.create(tmp_path / "keyring.json").blind_index_key
    assert normalise_name("  Iváňová-Olga ") == "ivanova olga"
    assert blind_index(key, "Ivanova Olga", "1999-02-03") == blind_index(key, "IVANOVA  olga", "1999-02-03")
    assert blind_index(key, "Ivanova Olga", "1999-02-03") != blind_index(key, "Ivanova Olga", "1999-02-04")
    assert blind_index(key, "Ivanova", "Olga") != blind_index(key, "Ivanova Olga", "")
    assert blind_index(key, "Ivanova Olga", "1999-02-03") != blind_index(bytes(32), "Ivanova Olga", "1999-02-03")
