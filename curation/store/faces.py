"""Face and embedding queries: what is left to detect or embed, recording a worker's output files,
an image's faces, the figures, and the embeddings export.

A worker writes Parquet parts; each part is recorded here in one transaction straight from the
file (`read_parquet`), skipping rows already recorded, so recording a part twice changes nothing.

Embeddings live in DuckDB as `FLOAT[]` lists, per (face, model) or (image, model): measured
against Parquet parts beside the database (bench/embed_storage.py), reading every vector of a
model back is twice as fast and the file smaller; recording a part costs more (25-60 ms for 256
vectors) but runs while the worker computes the next, and a part lands in one transaction
(README, "Faces and embeddings").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .db import next_id, utcnow



class FaceQueries:
    def images_to_scan(self) -> pd.DataFrame:
        """Usable images not yet searched for faces: id, sha256, ext, width, height, by id."""
        return self.query_df(
            "SELECT i.id, i.sha256, i.ext, i.width, i.height FROM images i WHERE i.status = 'ok' "
            "AND NOT EXISTS (SELECT 1 FROM face_scans s WHERE s.image_id = i.id) ORDER BY i.id")

    def record_scans(self, scans: Path, faces: Path, detector: str) -> int:
        """Record one part of a detection run (a scan row per image, a row per face); the faces added."""
        with self.transaction() as cur:
            fresh = "image_id NOT IN (SELECT image_id FROM face_scans)"
            before = cur.execute("SELECT count(*) FROM faces").fetchall()[0][0]
            cur.execute(
                "INSERT INTO faces SELECT ? + row_number() OVER (ORDER BY image_id, face) - 1, image_id, face, "
                "x1, y1, x2, y2, prob, landmarks::FLOAT[10], chip_landmarks::FLOAT[10], chip "
                f"FROM read_parquet(?) WHERE {fresh}", [next_id(cur, "faces"), str(faces)])
            cur.execute(f"INSERT INTO face_scans SELECT image_id, faces, error, ?, ? FROM read_parquet(?) "
                        f"WHERE {fresh}", [detector, utcnow(), str(scans)])
            return cur.execute("SELECT count(*) FROM faces").fetchall()[0][0] - before

    def scan_counts(self) -> dict[str, int]:
        """Usable images, and how many were searched: with faces, with none, failed; and faces found."""
        row = self.query(
            "SELECT (SELECT count(*) FROM images WHERE status = 'ok'), count(*), "
            "count(*) FILTER (WHERE faces > 0), count(*) FILTER (WHERE faces = 0), "
            "count(*) FILTER (WHERE faces IS NULL), coalesce(sum(faces), 0) FROM face_scans")[0]
        return dict(zip(("images", "scanned", "with_faces", "no_face", "failed", "faces"), map(int, row)))

    def image_faces(self, image_id: int) -> tuple[dict | None, pd.DataFrame]:
        """An image's scan (faces, error, detector, when) or None if not searched yet, and its faces."""
        scan = self.query("SELECT faces, error, detector, scanned_at FROM face_scans WHERE image_id = ?", [image_id])
        faces = self.query_df("SELECT id, face, x1, y1, x2, y2, prob, chip FROM faces WHERE image_id = ? ORDER BY face",
                              [image_id])
        return (dict(zip(("faces", "error", "detector", "scanned_at"), scan[0])) if scan else None), faces

    def faces_to_embed(self, model: str) -> pd.DataFrame:
        """Faces with no `model` vector yet: key (face id), image_id, sha256, ext, chip, box, by id."""
        return self.query_df(
            "SELECT f.id AS key, f.image_id, i.sha256, i.ext, f.chip, f.x1, f.y1, f.x2, f.y2 "
            "FROM faces f JOIN images i ON i.id = f.image_id WHERE NOT EXISTS "
            "(SELECT 1 FROM face_embeddings e WHERE e.face_id = f.id AND e.model = ?) ORDER BY f.id", [model])

    def images_to_embed(self, model: str) -> pd.DataFrame:
        """Usable images with no whole-image `model` vector yet: key (image id), image_id, sha256, ext."""
        return self.query_df(
            "SELECT i.id AS key, i.id AS image_id, i.sha256, i.ext FROM images i WHERE i.status = 'ok' "
            "AND NOT EXISTS (SELECT 1 FROM image_embeddings e WHERE e.image_id = i.id AND e.model = ?) "
            "ORDER BY i.id", [model])

    def record_embeddings(self, model: str, subject: str, part: Path) -> int:
        """Record one part (key, vector) of an embedding run; the vectors added."""
        table, key = ("face_embeddings", "face_id") if subject == "face" else ("image_embeddings", "image_id")
        with self.transaction() as cur:
            before = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            cur.execute(
                f"INSERT INTO {table} SELECT p.key, ?, p.vector::FLOAT[], ? FROM read_parquet(?) p "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE e.{key} = p.key AND e.model = ?)",
                [model, utcnow(), str(part), model])
            return cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before

    def face_count(self) -> int:
        return self.query("SELECT count(*) FROM faces")[0][0]

    def embedding_counts(self) -> dict[str, int]:
        return dict(self.query(
            "SELECT model, count(*) FROM "
            "(SELECT model FROM face_embeddings UNION ALL SELECT model FROM image_embeddings) "
            "GROUP BY model ORDER BY model"))

    def face_vectors(self, model: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Every face with a `model` vector (face_id, image_id, face, box, image size, label) and the
        vectors as one float32 matrix, rows in the same order."""
        return self.rows_with_vectors(
            "SELECT f.id AS face_id, f.image_id, f.face, f.x1, f.y1, f.x2, f.y2, i.width, i.height, i.label, "
            "e.vector FROM face_embeddings e JOIN faces f ON f.id = e.face_id JOIN images i ON i.id = f.image_id "
            "WHERE e.model = ? ORDER BY f.id", [model])

    def export_embeddings(self, model: str | None = None, batch_rows: int | None = None):
        """DESIGN.md's embeddings export: one row per source and face (or whole image) and model
        (with `batch_rows`: Arrow batches, streamed)."""
        return self.query_frame_or_batches(
            """
            SELECT s.source, f.face, i.label, [f.x1, f.y1, f.x2, f.y2] AS box, e.model, e.vector
            FROM face_embeddings e JOIN faces f ON f.id = e.face_id JOIN images i ON i.id = f.image_id
            JOIN sources s ON s.image_id = i.id WHERE ? IS NULL OR e.model = ?
            UNION ALL
            SELECT s.source, NULL, i.label, [0, 0, i.width, i.height]::FLOAT[], e.model, e.vector
            FROM image_embeddings e JOIN images i ON i.id = e.image_id
            JOIN sources s ON s.image_id = i.id WHERE ? IS NULL OR e.model = ?
            ORDER BY source, model, face NULLS FIRST
            """, [model, model, model, model], batch_rows)
