"""Hosted-key benchmark (`make bench`): what signing a browser write costs the service.

- hosted.sign: p50/p99 of ``sign_for_user`` (find the agency's key, canonicalise, sign) with the
  key in the keyring file, and with it inside a SoftHSM2 token (CKM_EDDSA) when SoftHSM2 is installed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from flask import Flask

from nrm_api import create_app
from nrm_api.accounts import hosted
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.crypto.keyring import Keyring

from .common import bench_app, figure, note, percentile, postgres_database, sized

SIGNATURES = sized("BENCH_HOSTED_SIGNATURES", 300, 100)
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
OPERATOR = Actor("cli:bench", role="operator")


def _samples(app: Flask) -> list[float]:
    from tests.forms.helpers import adult

    document = adult()
    person = Actor("user:bench-caseworker", "bench-agency", "caseworker")
    with app.app_context():
        agencies.add_agency(OPERATOR, "bench-agency", kind="ngo", name_en="Bench", regions=("Minsk",))
        hosted.sign_for_user(person, "POST", "/api/v1/forms", document)  # the key, made on first use
        samples = []
        for _ in range(SIGNATURES):
            started = time.perf_counter()
            hosted.sign_for_user(person, "POST", "/api/v1/forms", document)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def _token_app(database_url: str, scratch: Path) -> Flask | None:
    """An app whose keyring is a fresh SoftHSM2 token, or None without SoftHSM2."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        return None
    (scratch / "tokens").mkdir()
    conf = scratch / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {scratch / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["NRM_BENCH_HSM_PIN"] = secrets.token_hex(8)
    subprocess.run([util, "--init-token", "--free", "--label", "bench", "--pin", os.environ["NRM_BENCH_HSM_PIN"],
                    "--so-pin", secrets.token_hex(8)], check=True, capture_output=True, timeout=60)
    location = (f"pkcs11:token=bench?module-path={SOFTHSM_MODULE}&pin-source=env:NRM_BENCH_HSM_PIN"
                f"&x-keyfile={scratch / 'keyfile.json'}")
    Keyring.create(location)
    return create_app({"SECRET_KEY": secrets.token_urlsafe(32), "KEYRING": location, "DATABASE_URL": database_url,
                       "BASE_URL": "http://bench.local", "AUDIT_SEQUENCER_INTERVAL": 0})


def main() -> None:
    """Print the hosted-signing figures."""
    note(f"hosted.sign: {SIGNATURES} signatures with the key file, then in a SoftHSM2 token")
    values: dict[str, float | int] = {"signatures": SIGNATURES}
    with postgres_database() as url, bench_app(url) as (app, _ring):
        local = _samples(app)
        values.update(file_p50_ms=round(percentile(local, 0.5), 2), file_p99_ms=round(percentile(local, 0.99), 2))
    with postgres_database() as url, tempfile.TemporaryDirectory() as scratch:
        token = _token_app(url, Path(scratch))
        if token is not None:
            inside = _samples(token)
            values.update(token_p50_ms=round(percentile(inside, 0.5), 2),
                          token_p99_ms=round(percentile(inside, 0.99), 2))
    figure("hosted.sign", **values)


if __name__ == "__main__":
    main()
