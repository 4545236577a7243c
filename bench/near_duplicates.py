"""Near-duplicate lookup: microseconds per lookup, multi-index hashing against a scan of every hash.

Builds an index of N random 64-bit hashes (plus clusters of close ones, so that lookups find
matches), then times `nearest` for queries near held hashes and for random ones, and checks
every answer against the linear scan. Ingest makes one lookup per new image, so the scan makes a
whole ingest O(N squared); the index keeps the cost per image about flat.

Target: the lookup at 1,200,000 hashes within a few times the lookup at 10,000 (sublinear), and
answers identical to the scan.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from curation.hamming_index import HammingIndex, linear_nearest
from curation.ingest import NEAR_DISTANCE


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_200_000])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--blocks", type=int, nargs="+", default=[4, 7])
    return parser.parse_args()


def project_hashes(rng, n: int) -> np.ndarray:
    """Random hashes, a tenth of them within 1-6 bits of another (near duplicates)."""
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    near = rng.integers(0, n, n // 10)
    flips = np.bitwise_or.reduce(np.uint64(1) << rng.integers(0, 64, (n // 10, 3)).astype(np.uint64), axis=1)
    hashes[rng.integers(0, n, n // 10)] = hashes[near] ^ flips
    return hashes


def query_set(rng, hashes: np.ndarray, n: int) -> list[int]:
    near = hashes[rng.integers(0, len(hashes), n // 2)] ^ (np.uint64(1) << rng.integers(0, 64, n // 2).astype(np.uint64))
    return [int(v) for v in np.concatenate([near, rng.integers(0, 2**64, n - n // 2, dtype=np.uint64, endpoint=False)])]


def per_lookup_us(find, queries: list[int]) -> tuple[float, list]:
    start = time.perf_counter()
    answers = [find(q) for q in queries]
    return (time.perf_counter() - start) / len(queries) * 1e6, answers


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(0)
    print(f"{'hashes':>10}{'method':>22}{'build s':>10}{'us/lookup':>11}{'matched':>9}")
    for n in args.sizes:
        hashes = project_hashes(rng, n)
        queries = query_set(rng, hashes, args.queries)
        scan_us, expected = per_lookup_us(lambda q: linear_nearest(hashes, q, NEAR_DISTANCE), queries[:500])
        print(f"{n:>10,}{'linear scan':>22}{'':>10}{scan_us:>11.1f}{sum(a is not None for a in expected):>9}")
        for blocks in args.blocks:
            start = time.perf_counter()
            index = HammingIndex(hashes, radius=NEAR_DISTANCE, blocks=blocks)
            build = time.perf_counter() - start
            us, answers = per_lookup_us(index.nearest, queries)
            if answers[:500] != expected:
                raise SystemExit(f"MISMATCH: {blocks}-block index disagrees with the linear scan at {n} hashes")
            print(f"{n:>10,}{f'multi-index, {blocks} blocks':>22}{build:>10.2f}{us:>11.1f}"
                  f"{sum(a is not None for a in answers):>9}   (scan / index = {scan_us / us:.1f}x)")
    print("\nAnswers identical to the linear scan on every checked query.")


if __name__ == "__main__":
    main()
