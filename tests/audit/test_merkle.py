"""The Merkle tree against RFC 6962 vectors (transparency-dev) and as properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nrm_api.audit import merkle
from tests.conftest import ROOT_DIR

#: Published vectors, carried unchanged (licence beside them) so that a bare clone runs them.
VECTORS = ROOT_DIR / "tests" / "vectors" / "merkle"


def _files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(VECTORS)) for p in paths]


@pytest.mark.parametrize("path", _files("inclusion"), ids=_ids(_files("inclusion")))
def test_inclusion_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b(p) for p in case["proof"] or []]
    check = lambda: merkle.verify_inclusion(  # noqa: E731
        case["leafIdx"], case["treeSize"], _b(case["leafHash"]), proof, _b(case["root"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", _files("consistency"), ids=_ids(_files("consistency")))
def test_consistency_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b(p) for p in case["proof"] or []]
    check = lambda: merkle.verify_consistency(  # noqa: E731
        case["size1"], case["size2"], _b(case["root1"]), _b(case["root2"]), proof)
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            check()
    else:
        check()


def test_every_vector_file_is_found() -> None:
    assert len(_files("inclusion")) > 40
    assert len(_files("consistency")) > 40
    assert any(not json.loads(p.read_text())["wantErr"] for p in _files("inclusion"))


def _tree(size: int) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for i in range(size):
        tree.append(merkle.leaf_hash(f"event {i}".encode()))
    return tree


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962's MTH, written as the RFC writes it."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


@given(st.integers(0, 70))
def test_incremental_root_equals_the_rfc_definition(size: int) -> None:
    tree = _tree(size)
    assert tree.root() == _reference_root(tree.levels[0])


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not(case: tuple[int, int]) -> None:
    size, index = case
    tree = _tree(size)
    proof = merkle.inclusion_proof(index, size, tree.node)
    merkle.verify_inclusion(index, size, tree.node(0, index), proof, tree.root())
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, merkle.leaf_hash(b"forged"), proof, tree.root())


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_every_consistency_proof_verifies_and_a_rewritten_past_does_not(case: tuple[int, int]) -> None:
    old, new = case
    tree = _tree(new)
    proof = merkle.consistency_proof(old, new, tree.node)
    if old == new:
        merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)
        return
    merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    rewritten = _tree(old)
    rewritten.levels[0][0] = merkle.leaf_hash(b"rewritten")
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(old, new, _reference_root(rewritten.levels[0]), tree.root(new), proof)
