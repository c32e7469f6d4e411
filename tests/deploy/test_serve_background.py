"""`nrm-api serve --no-background` (NRM_SERVE_BACKGROUND=0): a node that serves requests only.

In compose, Kubernetes and systemd the audit sequencer and the webhook deliverer are services of
their own (deploy/); their nodes run gunicorn alone. By default `serve` still runs both beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serving import Server, call, serve


def _children(pid: int) -> list[str]:
    """The command lines of a process's children (gunicorn's workers, the sequencer, the deliverer)."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode() for child in found]


def _background(server: Server) -> list[str]:
    assert server.process is not None
    return [line for line in _children(server.process.pid) if "nrm_api.cli" in line]


@pytest.mark.parametrize(("setting", "expected"), [
    (None, ["audit sequence --loop", "webhooks deliver --loop"]),
    ("0", []),
])
def test_serve_runs_the_sequencer_and_deliverer_unless_told_not_to(tmp_path: Path, setting: str | None,
                                                                  expected: list[str]) -> None:
    extra = {"NRM_SERVE_BACKGROUND": setting} if setting else {}
    with serve("sqlite", tmp_path, workers=1, systems=0, extra_env=lambda _url: extra) as server:
        assert call(f"{server.base}/readyz")[0] == 200
        background = _background(server)
        assert len(background) == len(expected), background
        for line, command in zip(sorted(background), expected, strict=True):
            assert command in line
        workers = [line for line in _children(server.process.pid) if "nrm_api.cli" not in line]  # type: ignore[union-attr]
        assert len(workers) == 1  # gunicorn's worker serves either way
