"""The log's Merkle tree as stored: leaves in ``audit_leaves``, perfect subtrees in ``audit_nodes``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from . import merkle
from .models import AuditLeaf, AuditNode

Key = tuple[int, int]


def frontier_keys(size: int) -> list[Key]:
    """The perfect subtrees that make up a tree of ``size`` leaves, largest first."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


class StoredTree:
    """Reads stored hashes in bulk and extends the tree with new leaves."""

    def __init__(self, session: Session, size: int) -> None:
        self.session = session
        self.size = size
        self.cache: dict[Key, bytes] = {}
        #: ``(level, index, hash)`` of every perfect subtree completed since, in the order completed.
        self.new_nodes: list[tuple[int, int, bytes]] = []
        self.load(frontier_keys(size))

    def load(self, keys: Iterable[Key]) -> None:
        """Fetch the hashes of ``keys`` not yet cached, leaves and nodes in one query each."""
        wanted = [key for key in set(keys) if key not in self.cache]
        leaves = [index for level, index in wanted if level == 0]
        nodes = [key for key in wanted if key[0] > 0]
        if leaves:
            rows = self.session.execute(select(AuditLeaf.seq, AuditLeaf.leaf_hash).where(AuditLeaf.seq.in_(leaves)))
            self.cache.update({(0, seq): value for seq, value in rows})
        if nodes:
            node_rows = self.session.execute(select(AuditNode.level, AuditNode.index, AuditNode.hash)
                                             .where(tuple_(AuditNode.level, AuditNode.index).in_(nodes)))
            for level, index, value in node_rows:
                self.cache[(level, index)] = value

    def node(self, level: int, index: int) -> bytes:
        """A stored hash (it must have been loaded)."""
        return self.cache[(level, index)]

    def append(self, leaf: bytes) -> None:
        """Add a leaf at position ``size``, recording every perfect subtree it completes."""
        level, index, value = 0, self.size, leaf
        self.cache[(0, index)] = leaf
        while index & 1:
            value = merkle.node_hash(self.cache[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            self.cache[(level, index)] = value
            self.new_nodes.append((level, index, value))
        self.size += 1

    def prefetch(self, compute: Callable[[merkle.NodeGetter], object]) -> None:
        """Load every hash a computation over the tree will read, by running it once on placeholders."""
        wanted: list[Key] = []

        def record(level: int, index: int) -> bytes:
            wanted.append((level, index))
            return bytes(32)

        compute(record)
        self.load(wanted)

    def root(self, size: int | None = None) -> bytes:
        """Root hash at ``size`` leaves (the current size by default)."""
        size = self.size if size is None else size
        self.prefetch(lambda node: merkle.root(size, node))
        return merkle.root(size, self.node)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of ``size`` leaves."""
        self.prefetch(lambda node: merkle.inclusion_proof(index, size, node))
        return merkle.inclusion_proof(index, size, self.node)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """Proof that the tree of ``new`` leaves extends that of ``old``."""
        self.prefetch(lambda node: merkle.consistency_proof(old, new, node))
        return merkle.consistency_proof(old, new, self.node)
