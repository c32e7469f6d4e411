"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs and their verification.

Pure functions: no database, no app. Trees are read through ``node(level, index)``, the hash of
the perfect subtree of ``2**level`` leaves starting at leaf ``index * 2**level`` (level 0: leaves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

NodeGetter = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32


class ProofError(ValueError):
    """A proof does not hold."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeGetter) -> bytes:
    """MTH of leaves ``[start, end)``, where ``start`` is aligned as RFC 6962's recursion aligns it."""
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root(size: int, node: NodeGetter) -> bytes:
    """The root hash of the first ``size`` leaves."""
    return subtree_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeGetter) -> list[bytes]:
    """RFC 6962 ``PATH(index, D[0:size])``."""
    if not 0 <= index < size:
        raise ProofError("index outside the tree")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start += k
    return proof[::-1]


def consistency_proof(old: int, new: int, node: NodeGetter) -> list[bytes]:
    """RFC 6962 ``PROOF(old, D[0:new])``."""
    if not 0 <= old <= new:
        raise ProofError("sizes out of order")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree_hash(start, end, node))
    return proof[::-1]


def _check_lengths(*hashes: bytes) -> None:
    if any(len(value) != HASH_SIZE for value in hashes):
        raise ProofError("every hash is 32 bytes")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raise ``ProofError`` unless ``leaf`` is at ``index`` of the tree."""
    _check_lengths(leaf, expected_root, *proof)
    if not 0 <= index < size:
        raise ProofError("index outside the tree")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or result != expected_root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2; raise ``ProofError`` unless the tree of ``new`` extends that of ``old``."""
    if old > new:
        raise ProofError("old size is larger than new size")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("equal sizes need equal roots and an empty proof")
        if old == 0:
            raise ProofError("nothing to prove about empty trees")
        return
    if old == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    _check_lengths(old_root, new_root, *proof)
    if not proof:
        raise ProofError("empty proof")
    path = [old_root, *proof] if old & (old - 1) == 0 else list(proof)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("proof too long")
        if fn & 1 or fn == sn:
            first, second = node_hash(sibling, first), node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or first != old_root or second != new_root:
        raise ProofError("consistency proof does not hold")


class MemoryTree:
    """A tree held in memory: the verifier's and the tests' tree, appended leaf by leaf."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash, completing every perfect subtree it closes."""
        self.levels[0].append(leaf)
        level, index = 0, self.size - 1
        while index & 1:
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(self.levels[level][index - 1], self.levels[level][index]))
            level, index = level + 1, index >> 1

    def node(self, level: int, index: int) -> bytes:
        """A stored perfect subtree hash."""
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (all by default)."""
        return root(self.size if size is None else size, self.node)
