"""Multi-index hashing answers exactly what a scan of every hash answers."""

from __future__ import annotations

import numpy as np
import pytest

from curation.hamming_index import HammingIndex, block_bounds, linear_nearest, ranges


def random_hashes(rng, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)


def flip(value: int, rng, bits: int) -> int:
    for b in rng.choice(64, bits, replace=False):
        value ^= 1 << int(b)
    return value


def queries(rng, hashes: np.ndarray, n: int) -> list[int]:
    """Hashes 0 to 8 bits from held ones (so answers at every distance, ties included), and random ones."""
    near = [flip(int(hashes[rng.integers(len(hashes))]), rng, int(rng.integers(0, 9))) for _ in range(n)]
    return near + [int(v) for v in random_hashes(rng, n // 4)]


@pytest.mark.parametrize("blocks", [7, 4, 3])
def test_lookups_equal_the_linear_scan(blocks):
    rng = np.random.default_rng(blocks)
    base = random_hashes(rng, 3000)
    # Clusters of close hashes, so several candidates fall within the radius at once.
    clustered = np.array([flip(int(base[i % 50]), rng, int(rng.integers(0, 7))) for i in range(2000)], dtype=np.uint64)
    hashes = np.concatenate([base, clustered, base[:100]])
    index = HammingIndex(hashes, radius=6, blocks=blocks)
    found = 0
    for q in queries(rng, hashes, 1500):
        expected = linear_nearest(hashes, q, 6)
        assert index.nearest(q) == expected
        found += expected is not None
    assert found > 1000


@pytest.mark.parametrize("blocks", [7, 4])
def test_adding_one_at_a_time_equals_the_scan_across_rebuilds(blocks):
    rng = np.random.default_rng(10 + blocks)
    index = HammingIndex(radius=6, blocks=blocks)
    held: list[int] = []
    seeds = random_hashes(rng, 40)
    for step in range(9000):
        value = flip(int(seeds[step % 40]), rng, int(rng.integers(0, 10))) if step % 3 else int(random_hashes(rng, 1)[0])
        expected = linear_nearest(np.array(held, dtype=np.uint64), value, 6)
        assert index.nearest(value) == expected, step
        assert index.add(value) == len(held)
        held.append(value)
    assert index.built > 4096  # the tables were rebuilt at least once on the way


def test_empty_index_finds_nothing():
    assert HammingIndex().nearest(12345) is None


def test_seven_blocks_cover_all_64_bits_and_any_hash_within_six_shares_one():
    bounds = block_bounds(7)
    assert sum(width for _, width in bounds) == 64
    masks = [((1 << width) - 1) << shift for shift, width in bounds]
    assert sum(masks) == 2**64 - 1
    rng = np.random.default_rng(3)
    for _ in range(500):
        a = int(random_hashes(rng, 1)[0])
        b = flip(a, rng, 6)
        assert any((a & m) == (b & m) for m in masks)


def test_ranges_concatenates_aranges():
    starts, ends = np.array([5, 9, 9, 0, 20]), np.array([8, 9, 12, 2, 21])
    assert ranges(starts, ends).tolist() == [5, 6, 7, 9, 10, 11, 0, 1, 20]
    assert ranges(np.array([3]), np.array([3])).tolist() == []
