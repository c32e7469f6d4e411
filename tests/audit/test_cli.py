"""`nrm-api audit`: sequence, verify the live log, export a bundle and verify it offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from nrm_api.cli import main
from nrm_api.extensions import db
from tests.audit.helpers import add_events

NRM_API = str(Path(sys.executable).with_name("nrm-api"))


def _offline(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with no NRM_* settings at all: no database, no keyring, no secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NRM_")}
    return subprocess.run([NRM_API, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_sequence_verify_export_and_verify_offline(session_app: Flask, tmp_path: Path) -> None:
    with session_app.app_context(), Session(db.engine) as session:
        add_events(5, session=session, label="cli")
    runner = session_app.test_cli_runner()
    sequenced = runner.invoke(main, ["audit", "sequence", "--checkpoint"])
    assert sequenced.exit_code == 0, sequenced.output
    assert "newest checkpoint at size" in sequenced.output
    live = runner.invoke(main, ["audit", "verify"])
    assert live.exit_code == 0, live.output
    assert json.loads(live.output)["valid"] is True

    path = tmp_path / "audit.bundle"
    exported = runner.invoke(main, ["audit", "export", "--bundle", str(path)])
    assert exported.exit_code == 0, exported.output
    offline = _offline("audit", "verify", "--bundle", str(path))
    assert offline.returncode == 0, offline.stderr
    report = json.loads(offline.stdout)
    assert report["valid"] is True and report["events_checked"] >= 5

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(session_app.test_client().get("/.well-known/jwks.json").get_json()))
    assert _offline("audit", "verify", "--bundle", str(path), "--trusted-jwks", str(jwks)).returncode == 0

    lines = path.read_text().splitlines()
    victim = next(i for i, line in enumerate(lines) if '"seq": 2,' in line)
    lines[victim] = lines[victim].replace('"seq": 2,', '"seq": 3,')
    path.write_text("\n".join(lines) + "\n")
    broken = _offline("audit", "verify", "--bundle", str(path))
    assert broken.returncode != 0
    assert "first invalid position 2" in broken.stderr
    assert "Traceback" not in broken.stderr

    (tmp_path / "junk").write_text("not a bundle\n")
    junk = _offline("audit", "verify", "--bundle", str(tmp_path / "junk"))
    assert junk.returncode != 0
    assert "not JSON" in junk.stderr


def test_export_streams_events_for_the_operator(session_app: Flask) -> None:
    with session_app.app_context(), Session(db.engine) as session:
        add_events(2, session=session, label="cli-export")
    result = session_app.test_cli_runner().invoke(main, ["audit", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "cli-export:1" in result.output
    assert result.output.splitlines()[0].startswith("seq,occurred_at,actor")
    neither = session_app.test_cli_runner().invoke(main, ["audit", "export"])
    assert neither.exit_code != 0
    assert "either --bundle" in neither.output
