"""Review page latency on a large project: `count_images` + `page_images` per filter and page.

Builds (or reuses) a project of synthetic rows written straight with SQL: ~1% failed files,
~500 identity labels, ~5% unlabelled, ~1% near-duplicate groups, ~2% images with two sources,
flags on ~3% of images, ~50,000 events. Then times what the Review page runs on a filter or
page change, for realistic filters on page 0 and a deep page.

Target: median time of a filter + page change under 1 s on 1,200,000 image rows.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from curation.store import ReviewFilter, open_store

TARGET_MS = 1000.0
PAGE_SIZE = 48
DEEP_PAGE = 1000
FIRST = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kemi", "Liam", "Maya", "Nikolai", "Olga", "Pedro", "Qing", "Rosa", "Sami", "Tara")
LAST = ("Abe", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
        "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka",
        "Usman", "Varga", "Wang", "Xu", "Yilmaz")
NAMES = [f"{f}_{l}" for f in FIRST for l in LAST]

BUILD_SQL = [
    "CREATE OR REPLACE TEMP MACRO h(x, salt, k) AS (hash(x, salt) % k)::BIGINT",
    """INSERT INTO labels SELECT unnest($names), TIMESTAMP '2024-01-01'""",
    """INSERT INTO images
       SELECT r + 1, sha256(md5(r::VARCHAR)), if(failed, 'failed', 'ok'),
              if(failed, ['truncated', 'corrupt', 'not_an_image', 'html', 'too_small'][h(r, 'reason', 5) + 1], NULL),
              if(failed, 'Synthetic failure.', NULL),
              if(failed, NULL, 'JPEG'), if(failed, NULL, 'jpg'),
              if(failed, NULL, 250 + h(r, 'w', 751)), if(failed, NULL, 250 + h(r, 'h', 751)),
              if(failed, NULL, 'RGB'), if(failed, NULL, 1), NULL,
              if(failed, NULL, hash(r, 'phash')),
              if(NOT failed AND r % 200 IN (10, 11), r - r % 200 + 11, NULL),
              if(h(r, 'unlabelled', 100) < 5, NULL, $names[h(r, 'label', 500) + 1]),
              20000 + h(r, 'bytes', 400000),
              TIMESTAMP '2024-01-01' + to_seconds(r)
       FROM (SELECT range AS r, h(range, 'failed', 100) = 0 AS failed FROM range($nrows))""",
    """INSERT INTO sources (source, image_id, label_hint, added_at)
       SELECT '/data/faces/' || coalesce(label, 'misc') || '/img_' || id || '.jpg', id, label, added_at FROM images""",
    """INSERT INTO sources (source, image_id, label_hint, added_at)
       SELECT '/data/scrape2/' || coalesce(label, 'misc') || '/' || md5(id::VARCHAR) || '.jpg', id, label, added_at
       FROM images WHERE h(id, 'second', 50) = 0""",
    """INSERT INTO flags
       SELECT row_number() OVER (ORDER BY image_id, kind), image_id, kind, 'Synthetic flag.',
              h(image_id, kind, 10) <> 0, 'bench', TIMESTAMP '2024-02-01'
       FROM (SELECT id AS image_id, 'duplicate' AS kind FROM images WHERE near_group IS NOT NULL AND id <> near_group
             UNION ALL
             SELECT id, ['blurry', 'wrong_label', 'label_conflict', 'not_a_face'][h(id, 'kind', 4) + 1]
             FROM images WHERE h(id, 'flag', 1000) < 25
             UNION ALL
             SELECT id, 'wrong_label' FROM images WHERE h(id, 'flag', 1000) < 3)""",
    """INSERT INTO events
       SELECT r + 1, TIMESTAMP '2024-03-01' + to_seconds(r), ['alice', 'bob', 'chen'][r % 3 + 1],
              ['set_label', 'flag', 'unflag'][h(r, 'action', 3) + 1], h(r, 'image', $nrows) + 1,
              '{"label": null}', '{"label": "x"}', 'batch-' || (r // 20), NULL
       FROM range($nevents) t(r)""",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--project", type=Path, help="project folder (default /tmp/curation-bench-scale-<rows>)")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    args.project = args.project or Path(f"/tmp/curation-bench-scale-{args.rows}")
    return args


def ensure_project(root: Path, rows: int, events: int):
    if root.exists():
        store = open_store(root)
        have = store.query("SELECT count(*) FROM images")[0][0]
        if have == rows:
            print(f"Reusing {root} ({have} image rows)")
            return store
        raise SystemExit(f"{root} holds {have} image rows, not {rows}: remove it or pass --project.")
    subprocess.run([str(Path(sys.executable).with_name("curation")), "init", str(root)], check=True, capture_output=True)
    store = open_store(root)
    values = {"names": NAMES, "nrows": rows, "nevents": events}
    start = time.perf_counter()
    with store.transaction() as cur:
        for sql in BUILD_SQL:
            cur.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    store.query("CHECKPOINT")
    print(f"Built {root} in {time.perf_counter() - start:.1f} s")
    return store


def describe(store, root: Path) -> None:
    size = (root / "project.duckdb").stat().st_size
    counts = store.query(
        "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM images WHERE status = 'failed'), "
        "(SELECT count(*) FROM images WHERE label IS NULL), (SELECT count(*) FROM sources), "
        "(SELECT count(*) FROM flags), (SELECT count(DISTINCT image_id) FROM flags), (SELECT count(*) FROM events)")[0]
    print("DB {:.0f} MiB; images {}, failed {}, unlabelled {}, sources {}, flags {} on {} images, events {}".format(
        size / 2**20, *counts))


def filters() -> dict[str, ReviewFilter]:
    label = NAMES[0]
    return {
        "no filter (any status)": ReviewFilter(status=None),
        f"label {label}": ReviewFilter(labels=(label,)),
        "unlabelled": ReviewFilter(unlabelled=True),
        "flag duplicate": ReviewFilter(flag_kind="duplicate"),
        "flag any": ReviewFilter(flag_kind="any"),
        "source contains 'scrape2'": ReviewFilter(source="scrape2"),
        "status failed": ReviewFilter(status="failed"),
        "duplicates only": ReviewFilter(duplicates_only=True),
        f"label {label} + flag wrong_label": ReviewFilter(labels=(label,), flag_kind="wrong_label"),
    }


def filter_and_page(store, flt: ReviewFilter, page: int) -> tuple[float, int]:
    start = time.perf_counter()
    total = store.count_images(flt)
    store.page_images(flt, page, PAGE_SIZE)
    return (time.perf_counter() - start) * 1000, total


def measure(store, repeats: int) -> list[tuple[str, int, int, list[float]]]:
    results = []
    for name, flt in filters().items():
        _, total = filter_and_page(store, flt, 0)
        deep = min(DEEP_PAGE, max(0, (total - 1) // PAGE_SIZE))
        for page in sorted({0, deep}):
            times = [filter_and_page(store, flt, page)[0] for _ in range(repeats)]
            results.append((name, page, total, times))
    return results


def report(results) -> None:
    print(f"\n{'filter':<36}{'page':>6}{'rows':>10}{'median ms':>11}{'max ms':>9}")
    for name, page, total, times in results:
        print(f"{name:<36}{page:>6}{total:>10}{statistics.median(times):>11.1f}{max(times):>9.1f}")
    medians = [statistics.median(t) for *_, t in results]
    overall, worst = statistics.median(medians), max(medians)
    verdict = "PASS" if overall < TARGET_MS else "MISS"
    print(f"\n{verdict}: filter + page change median {overall:.1f} ms over {len(results)} cases "
          f"(slowest case median {worst:.1f} ms; target < {TARGET_MS:.0f} ms)")


def main() -> None:
    args = parse_args()
    store = ensure_project(args.project, args.rows, args.events)
    describe(store, args.project)
    report(measure(store, args.repeats))


if __name__ == "__main__":
    main()
