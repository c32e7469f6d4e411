"""The suite needs nothing outside the repository: a bare clone runs every test."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT_DIR

#: Ways a file can reach the design folder that sits beside the repository on developers' machines:
#: a relative path, a parent-relative join, or the constant the suite once had. (The samples below
#: are split into pieces so that this file does not itself match a plain grep for them.)
OUTSIDE = re.compile(r"\.\./" + "shared|parents?\\b[^\\n]*[\"']shared[\"']|\\bSHARED\\b|" + "/work/" + "shared")
#: Everything that runs when ``make test`` runs.
RUN_BY_MAKE_TEST = ("Makefile", ".ci/run", "pyproject.toml")


def _files_that_run() -> list[Path]:
    sources = [path for path in (ROOT_DIR / "tests").rglob("*.py") if "vectors" not in path.parts]
    return [*sources, *(ROOT_DIR / name for name in RUN_BY_MAKE_TEST if (ROOT_DIR / name).is_file())]


def test_no_test_reads_a_file_outside_the_repository() -> None:
    found = []
    for path in _files_that_run():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line) and path != Path(__file__):
                found.append(f"{path.relative_to(ROOT_DIR)}:{number}: {line.strip()}")
    assert found == [], "tests must use the repository's own copies (docs/, tests/vectors/):\n" + "\n".join(found)


def test_the_guard_sees_what_it_guards_against() -> None:
    for line in ('SHA' 'RED / "design"', 'open("../' 'shared/design/contract.md")',
                 'ROOT_DIR.parent / "sh' 'ared"', 'Path(__file__).parents[2] / "sh' 'ared" / "vectors"'):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search('ROOT_DIR / "tests" / "vectors" / "jcs"')
    assert not OUTSIDE.search('def test_drafts_are_never_shared(client) -> None:')


def test_the_vectors_carry_their_licences() -> None:
    for folder in ("jcs", "merkle"):
        licence = ROOT_DIR / "tests" / "vectors" / folder / "LICENSE"
        assert licence.is_file() and licence.stat().st_size > 500, folder
    assert (ROOT_DIR / "tests" / "vectors" / "README.md").is_file()


def test_the_contract_is_in_the_repository_and_the_openapi_document_links_it() -> None:
    import yaml

    spec = yaml.safe_load((ROOT_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    assert "docs/contract.md" in spec["info"]["description"]
    assert (ROOT_DIR / "docs" / "contract.md").is_file()


def test_the_environment_has_no_installer_with_known_cves() -> None:
    """`make` upgrades what ensurepip brings: pip before 25.3 and setuptools before 78.1.1 have known CVEs."""
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("pip")) >= Version("25.3")  # CVE-2025-8869: tar extraction outside the target
    assert Version(version("setuptools")) >= Version("78.1.1")  # CVE-2025-47273, CVE-2024-6345
