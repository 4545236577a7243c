"""Nearest 64-bit hash within a Hamming radius, without scanning every hash: multi-index hashing.

The 64 bits are split into `blocks` contiguous blocks. Two hashes within `radius` bits of each
other differ by at most `radius // blocks` bits in at least one block (pigeonhole), so with
7 blocks and radius 6 they share one block exactly. Each block keeps a table from its value to
the positions holding it; a lookup probes, in every block, the values within `radius // blocks`
bits of the query's, and measures the full distance only on those candidates (Norouzi, Punjani
and Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012).

The tables are CSR arrays (positions sorted by block value, and an offset per possible value)
over the hashes present at the last rebuild, plus a small per-block dictionary for hashes added
since; the tables are rebuilt when the dictionaries grow past a fraction of the whole, so adding
is O(1) amortised and no lookup ever scans the project.

The answer is exactly the linear scan's: the smallest distance within the radius, and among
equal distances the smallest position.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

HASH_BITS = 64


def block_bounds(blocks: int) -> list[tuple[int, int]]:
    """(shift, width) of each block, the wider blocks first: 64 = 10 + 9 * 6 for 7 blocks."""
    base, extra = divmod(HASH_BITS, blocks)
    widths = [base + 1] * extra + [base] * (blocks - extra)
    bounds, shift = [], HASH_BITS
    for width in widths:
        shift -= width
        bounds.append((shift, width))
    return bounds


def flip_masks(width: int, radius: int) -> np.ndarray:
    """Every mask of `width` bits with at most `radius` bits set (0 first)."""
    masks = [sum(1 << b for b in bits) for r in range(radius + 1) for bits in combinations(range(width), r)]
    return np.array(masks, dtype=np.int64)


def linear_nearest(hashes: np.ndarray, query: int, radius: int) -> tuple[int, int] | None:
    """(position, distance) of the nearest hash within `radius`, by scanning all: the reference."""
    if not len(hashes):
        return None
    dist = np.bitwise_count(hashes ^ np.uint64(query))
    pos = int(np.argmin(dist))
    return (pos, int(dist[pos])) if dist[pos] <= radius else None


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of arange(s, e) for each pair, without a Python loop."""
    lengths = ends - starts
    keep = lengths > 0
    starts, ends, lengths = starts[keep], ends[keep], lengths[keep]
    if not len(lengths):
        return np.empty(0, dtype=np.int64)
    steps = np.ones(int(lengths.sum()), dtype=np.int64)
    steps[0] = starts[0]
    steps[np.cumsum(lengths)[:-1]] = starts[1:] - ends[:-1] + 1
    return np.cumsum(steps)


class HammingIndex:
    """Positions 0, 1, 2, ... of appended 64-bit hashes; `nearest` answers like `linear_nearest`."""

    def __init__(self, hashes: np.ndarray | None = None, radius: int = 6, blocks: int = 4):
        self.radius = radius
        self.bounds = block_bounds(blocks)
        masks = [flip_masks(width, radius // blocks) for _, width in self.bounds]
        self.probe_masks = np.concatenate(masks)
        self.probe_block = np.repeat(np.arange(blocks), [len(m) for m in masks])
        key_base = np.cumsum([0] + [1 << width for _, width in self.bounds])[:-1]
        self.probe_base = key_base[self.probe_block]
        initial = np.asarray(hashes if hashes is not None else [], dtype=np.uint64)
        self.size = len(initial)
        self.hashes = np.zeros(max(1024, 2 * self.size), dtype=np.uint64)
        self.hashes[:self.size] = initial
        self._rebuild()

    def __len__(self) -> int:
        return self.size

    def add(self, phash: int) -> int:
        """Append `phash`; returns its position."""
        if self.size == len(self.hashes):
            self.hashes = np.concatenate([self.hashes, np.zeros(len(self.hashes), dtype=np.uint64)])
        pos = self.size
        self.hashes[pos] = phash
        self.size += 1
        for table, key in zip(self.recent, self._keys(phash)):
            table.setdefault(key, []).append(pos)
        if self.size - self.built > max(4096, self.built // 8):
            self._rebuild()
        return pos

    def nearest(self, phash: int) -> tuple[int, int] | None:
        """(position, distance) of the nearest hash within the radius; the smallest position on ties."""
        candidates = self._candidates(phash)
        if not len(candidates):
            return None
        dist = np.bitwise_count(self.hashes[candidates] ^ np.uint64(phash))
        best = int(dist.min())
        if best > self.radius:
            return None
        return int(candidates[dist == best].min()), best

    def _keys(self, phash: int) -> list[int]:
        return [(phash >> shift) & ((1 << width) - 1) for shift, width in self.bounds]

    def _candidates(self, phash: int) -> np.ndarray:
        """Positions holding a probed value in some block (a position may come more than once)."""
        values = np.array(self._keys(phash), dtype=np.int64)[self.probe_block] ^ self.probe_masks
        probes = values + self.probe_base
        starts, ends = self.offsets[probes], self.offsets[probes + 1]
        found = self.order[ranges(starts, ends)]
        if self.size == self.built:
            return found
        recent = [np.array(self.recent[b][v], dtype=np.int64)
                  for b, v in zip(self.probe_block.tolist(), values.tolist()) if v in self.recent[b]]
        return np.concatenate([found, *recent]) if recent else found

    def _rebuild(self) -> None:
        """CSR tables over every hash held now; the per-block dictionaries start empty.

        All blocks share two flat arrays: `order` holds each block's positions sorted by that
        block's value, and `offsets[key_base[b] + v]` is where block b's value v starts in it.
        """
        held = self.hashes[:self.size]
        orders, offsets, start = [], [], 0
        for shift, width in self.bounds:
            keys = ((held >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
            orders.append(np.argsort(keys, kind="stable"))
            counts = np.bincount(keys, minlength=1 << width)
            offsets.append(start + np.concatenate([[0], np.cumsum(counts)])[:-1])
            start += self.size
        self.order = np.concatenate(orders) if orders else np.empty(0, dtype=np.int64)
        self.offsets = np.concatenate([*offsets, [start]])
        self.recent: list[dict[int, list[int]]] = [{} for _ in self.bounds]
        self.built = self.size
