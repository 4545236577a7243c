"""Review page latency on a large project: `count_images` + `page_images` per filter and page.

Builds (or reuses) a project of synthetic rows written straight with SQL: ~1% failed files,
~500 identity labels, ~5% unlabelled, ~1% near-duplicate groups, ~2% images with two sources,
flags on ~3% of images, ~50,000 events. Then times what the Review page runs on a filter or
page change, for realistic filters on page 0 and a deep page.

`--faces` adds (to a new project or one without faces) what detection, embedding, cleaning and the
map leave behind, in today's schema: a scan of every usable image, one face on ~80% of them and a
second on ~5% of those (~1M faces at 1.2M rows; no chip files), a 128-d dlib-resnet34 vector per
face (FLOAT[] rows, as the embed job records them; each label's faces near its own centre, ~4% near
another's), one cleaning run over every label (keep / remove / relabel suggestions, a few merges),
a stored map layout of every face, and a finished training run with a prediction per labelled image
(a fifth in validation, ~8% wrong). bench/pages.py adds them by default.

Target: median time of a filter + page change under 1 s on 1,200,000 image rows.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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


FACE_MODEL = "dlib-resnet34"
FACE_DIM = 128
VECTOR_CHUNK = 200_000
FACES_SQL = [
    "CREATE OR REPLACE TEMP MACRO h(x, salt, k) AS (hash(x, salt) % k)::BIGINT",
    """CREATE TEMP TABLE new_faces AS
       SELECT row_number() OVER (ORDER BY i.id, f.face) AS id, i.id AS image_id, f.face, i.width, i.height, i.sha256
       FROM images i CROSS JOIN (SELECT range AS face FROM range(2)) f
       WHERE i.status = 'ok' AND h(i.id, 'face', 100) < 80 AND (f.face = 0 OR h(i.id, 'face2', 100) < 5)""",
    """INSERT INTO faces
       SELECT id, image_id, face::INTEGER, x1, y1, x1 + side, y1 + side, 0.90 + h(id, 'prob', 100) / 1000,
              [x1 + 0.3 * side, y1 + 0.35 * side, x1 + 0.7 * side, y1 + 0.35 * side, x1 + 0.5 * side,
               y1 + 0.55 * side, x1 + 0.35 * side, y1 + 0.75 * side, x1 + 0.65 * side, y1 + 0.75 * side]::FLOAT[10],
              [45, 52, 105, 52, 75, 82, 52, 112, 98, 112]::FLOAT[10],
              'faces/' || sha256[:2] || '/' || sha256 || '-' || face || '.jpg'
       FROM (SELECT *, least(width, height) * 0.4 AS side, width * (0.1 + 0.45 * face) AS x1, height * 0.2 AS y1
             FROM new_faces)""",
    """INSERT INTO face_scans
       SELECT i.id, (SELECT count(*) FROM new_faces f WHERE f.image_id = i.id), NULL, 'mtcnn', TIMESTAMP '2024-04-01'
       FROM images i WHERE i.status = 'ok'""",
]


RUN_SQL = [
    """INSERT INTO runs VALUES (1, 'resnet34', 'bench', '{"epochs": 10, "image_size": 64, "seed": 0}', 'done', NULL,
       'cuda', 'imagenet', '{"accuracy": 0.92}', NULL, NULL, NULL, 'bench', TIMESTAMP '2024-05-01',
       TIMESTAMP '2024-05-01 02:00:00')""",
    """INSERT INTO run_epochs SELECT 1, e, 2.0 / e, 0.5 + e / 25, 2.2 / e, 0.48 + e / 25, 700 FROM range(1, 11) t(e)""",
    """INSERT INTO predictions
       SELECT 1, id, label, if(h(id, 'wrong', 100) < 8, $names[h(id, 'guess', 500) + 1], label),
              0.3 + h(id, 'confidence', 70) / 100, h(id, 'loss', 300) / 100, if(h(id, 'split', 5) = 0, 'val', 'train')
       FROM images WHERE status = 'ok' AND label IS NOT NULL""",
]


def add_faces(store, root: Path) -> None:
    """Faces, vectors, a cleaning run, a map layout and a training run, as the jobs leave them (see the
    module's text)."""
    start = time.perf_counter()
    with store.transaction() as cur:
        for sql in FACES_SQL + RUN_SQL:
            cur.execute(sql, {"names": NAMES} if "$names" in sql else None)
    faces = store.query_df("SELECT f.id, f.image_id, i.label FROM faces f JOIN images i ON i.id = f.image_id "
                           "ORDER BY f.id")
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 0.09, (len(NAMES) + 1, FACE_DIM)).astype(np.float32)
    own = faces["label"].map({name: i for i, name in enumerate(NAMES)}).fillna(len(NAMES)).to_numpy(np.int64)
    stray = rng.random(len(faces)) < 0.04
    near = np.where(stray, rng.integers(0, len(NAMES), len(faces)), own)
    add_vectors(store, faces["id"].to_numpy(np.int64), centres, near, rng)
    add_cleaning(store, faces, own, near, stray, rng)
    add_layout(store, faces["id"].to_numpy(np.int64), centres, near, rng)
    store.query("CHECKPOINT")
    print(f"Added {len(faces)} faces, vectors, a cleaning run, a map and a training run to {root} in "
          f"{time.perf_counter() - start:.1f} s")


def add_vectors(store, ids: np.ndarray, centres: np.ndarray, near: np.ndarray, rng) -> None:
    for lo in range(0, len(ids), VECTOR_CHUNK):
        rows = slice(lo, lo + VECTOR_CHUNK)
        vectors = centres[near[rows]] + rng.normal(0, 0.03, (len(ids[rows]), FACE_DIM)).astype(np.float32)
        chunk = pa.table({"face_id": ids[rows], "vector": pa.FixedSizeListArray.from_arrays(vectors.ravel(), FACE_DIM)})
        with store.transaction() as cur:
            cur.register("chunk", chunk)
            cur.execute("INSERT INTO face_embeddings SELECT face_id, ?, vector::FLOAT[], TIMESTAMP '2024-04-02' "
                        "FROM chunk", [FACE_MODEL])
            cur.unregister("chunk")


def add_cleaning(store, faces, own: np.ndarray, near: np.ndarray, stray: np.ndarray, rng) -> None:
    """One cleaning run over every label: a stray face is removed or (half of them) relabelled to the
    label it looks like; a few pairs of labels are proposed as one person."""
    labelled = faces["label"].notna().to_numpy()
    units = faces.loc[labelled, ["image_id", "id", "label"]].rename(columns={"id": "face_id"})
    names = np.array(NAMES + [None], dtype=object)
    moved = stray[labelled] & (near[labelled] != own[labelled])
    relabel = moved & (rng.random(int(labelled.sum())) < 0.5)
    action = np.where(relabel, "relabel", np.where(moved, "remove", "keep"))
    verdicts = pd.DataFrame({"action": action, "target_label": np.where(relabel, names[near[labelled]], None),
                             "score": rng.random(len(action)), "match": np.where(relabel, rng.random(len(action)), np.nan)})
    merges = pd.DataFrame({"label": NAMES[:5], "target_label": NAMES[5:10], "score": [0.9] * 5})
    summary = {"model": FACE_MODEL, "identities": len(NAMES), "faces": len(units), "kept": int((action == "keep").sum()),
               "remove": int((action == "remove").sum()), "relabel": int(relabel.sum()), "merges": len(merges),
               "duplicates": 0, "same_person": 0.6, "same_person_source": "dlib's published threshold", "unit": "face",
               "ambiguous": 0}
    store.record_clean_run({"model": FACE_MODEL, "subject": "face", "labels": None, "same_person": 0.6,
                            "same_person_source": summary["same_person_source"], "summary": summary,
                            "created_by": "bench"}, units, verdicts, merges)


def add_layout(store, ids: np.ndarray, centres: np.ndarray, near: np.ndarray, rng) -> None:
    """The map job's stored layout of every face (`curation.maps`' file): each label a blob."""
    from curation.map_run import maps_dir
    from curation.maps import layout_path
    from curation.project import write_atomically

    spots = centres[:, :2] / np.abs(centres[:, :2]).max() * 40
    coords = (spots[near] + rng.normal(0, 0.8, (len(ids), 2))).astype(np.float32)
    folder = maps_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, keys=ids, coords=coords)
    write_atomically(layout_path(folder, FACE_MODEL, ids, 0), buffer.getvalue(), tmp_dir=folder)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--project", type=Path, help="project folder (default /tmp/curation-bench-scale-<rows>)")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--faces", action="store_true",
                        help="add faces, vectors, a cleaning run and a map layout (to a project that has none)")
    args = parser.parse_args()
    args.project = args.project or Path(f"/tmp/curation-bench-scale-{args.rows}")
    return args


def ensure_project(root: Path, rows: int, events: int, faces: bool = False):
    if root.exists():
        store = open_store(root)
        have = store.query("SELECT count(*) FROM images")[0][0]
        if have != rows:
            raise SystemExit(f"{root} holds {have} image rows, not {rows}: remove it or pass --project.")
        print(f"Reusing {root} ({have} image rows)")
        if faces and not store.face_count():
            add_faces(store, root)
        return store
    subprocess.run([str(Path(sys.executable).with_name("curation")), "init", str(root)], check=True, capture_output=True)
    store = open_store(root)
    values = {"names": NAMES, "nrows": rows, "nevents": events}
    start = time.perf_counter()
    with store.transaction() as cur:
        for sql in BUILD_SQL:
            cur.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    store.query("CHECKPOINT")
    print(f"Built {root} in {time.perf_counter() - start:.1f} s")
    if faces:
        add_faces(store, root)
    return store


def describe(store, root: Path) -> None:
    size = (root / "project.duckdb").stat().st_size
    counts = store.query(
        "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM images WHERE status = 'failed'), "
        "(SELECT count(*) FROM images WHERE label IS NULL), (SELECT count(*) FROM sources), "
        "(SELECT count(*) FROM flags), (SELECT count(DISTINCT image_id) FROM flags), (SELECT count(*) FROM events), "
        "(SELECT count(*) FROM faces), (SELECT count(*) FROM face_embeddings), (SELECT count(*) FROM suggestions)")[0]
    print("DB {:.0f} MiB; images {}, failed {}, unlabelled {}, sources {}, flags {} on {} images, events {}, "
          "faces {}, face vectors {}, suggestions {}".format(size / 2**20, *counts))


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
    store = ensure_project(args.project, args.rows, args.events, args.faces)
    describe(store, args.project)
    report(measure(store, args.repeats))


if __name__ == "__main__":
    main()
