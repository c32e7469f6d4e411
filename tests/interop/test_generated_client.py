"""A client generated from openapi.yaml by openapi-python-client works against a served app.

The generator must take the whole document without a warning (it silently drops what it cannot
model: `Agency` once, for an inline `name` object beside the `AgencyName` component, so the client
crashed on GET /agencies), and the client must list the directory and read a form.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT_DIR
from tests.forms.helpers import adult
from tests.interop.conftest import Interop

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
PACKAGE = "nrm_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated into a temporary folder and importable for this module's tests."""
    folder = tmp_path_factory.mktemp("generated")
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: what is generated is what is tested
    done = subprocess.run([GENERATOR, "generate", "--path", str(ROOT_DIR / "openapi.yaml"), "--meta", "none",
                           "--config", str(config), "--output-path", str(folder / PACKAGE)],
                          capture_output=True, text=True, timeout=300, check=False)
    output = (done.stdout + done.stderr).replace(str(folder), "<folder>")  # no word of the path counts
    assert done.returncode == 0, output
    assert not re.search(r"warning|unable|error", output, re.IGNORECASE), output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(package: ModuleType, method: str, path: str) -> Any:
    """The generated module of ``method path`` (found by what it sends, whatever the generator named it)."""
    root = Path(package.__file__ or "").parent / "api"
    wanted = f'"method": "{method.lower()}",\n        "url": "{path}"'
    for source in sorted(root.rglob("*.py")):
        if wanted in source.read_text():
            relative = source.relative_to(root.parent).with_suffix("")
            return importlib.import_module(".".join((PACKAGE, *relative.parts)))
    raise AssertionError(f"the generated client has no {method} {path}")


def _client(generated: ModuleType, interop: Interop) -> Any:
    token = interop.server.sdk(0).token()
    return generated.AuthenticatedClient(base_url=interop.server.base, token=token, raise_on_unexpected_status=True)


def test_the_generated_client_lists_the_directory(generated: ModuleType, interop: Interop) -> None:
    with _client(generated, interop) as client:  # closes its connections (unclosed sockets are errors here)
        agencies = operation(generated, "GET", "/api/v1/agencies").sync(client=client)
    assert isinstance(agencies, list)
    models = importlib.import_module(f"{PACKAGE}.models")
    assert agencies and all(isinstance(agency, models.Agency) for agency in agencies)
    authority = next(agency for agency in agencies if agency.id == interop.authority[0])
    assert isinstance(authority.name, models.AgencyName)
    assert authority.name.en == f"Agency {interop.authority[0]}"
    assert str(authority.kind) == "authority"


def test_the_generated_client_reads_a_form(generated: ModuleType, interop: Interop) -> None:
    written = interop.server.sdk(0).submit_form(adult())
    read = operation(generated, "GET", "/api/v1/forms/{form_id}")
    with _client(generated, interop) as client:
        response = read.sync_detailed(written["id"], client=client)
    assert response.status_code == 200
    models = importlib.import_module(f"{PACKAGE}.models")
    form = response.parsed
    assert isinstance(form, models.Form)
    assert form.id == written["id"]
    assert form.version == written["version"]
    assert form.document.to_dict()["person"]["first_name"] == "Olga"
    assert response.headers["x-jws-signature"].count(".") == 2
