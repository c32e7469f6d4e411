"""RFC 8785 canonical JSON against the published vectors, and as a property."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nrm_api.crypto.canonical import canonical
from tests.conftest import ROOT_DIR

#: Published vectors, carried unchanged (licence beside them) so that a bare clone runs them.
VECTORS = ROOT_DIR / "tests" / "vectors" / "jcs"


def _cases() -> list[str]:
    return sorted(path.name for path in (VECTORS / "input").glob("*.json"))


@pytest.mark.parametrize("name", _cases())
def test_published_vectors(name: str) -> None:
    value = json.loads((VECTORS / "input" / name).read_text(encoding="utf-8"))
    assert canonical(value) == (VECTORS / "output" / name).read_bytes().rstrip(b"\n")


def test_all_vectors_are_found() -> None:
    assert len(_cases()) == 6


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    # integral floats of 2**53 and more print as integers outside I-JSON's safe range: RFC 8785 refuses them
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not (x.is_integer() and abs(x) >= 2**53))
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_form_round_trips_and_is_a_fixed_point(value: object) -> None:
    once = canonical(value)
    assert canonical(json.loads(once)) == once


plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127), max_size=8), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=500)
@given(plain_values)
def test_the_fast_path_gives_the_same_bytes_as_rfc8785(value: object) -> None:
    import rfc8785

    assert canonical(value) == rfc8785.dumps(value)


def test_values_off_the_fast_path_still_canonicalise() -> None:
    import rfc8785

    for value in ({"é": 1, "z": 2, "a": [1.5, 1e21]}, {"\U0001f600": "x", "\ufb33": "y"}, [0.1, -0.0]):
        assert canonical(value) == rfc8785.dumps(value)
    from nrm_api.crypto.canonical import NotCanonicalizable

    with pytest.raises(NotCanonicalizable):
        canonical({"n": 2**60})
