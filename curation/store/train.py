"""Training queries: what a run may train on, dataset versions, runs, epochs and predictions."""

from __future__ import annotations

import json

import pandas as pd

from .db import next_id, utcnow

RUN_COLUMNS = ("id, arch, dataset_version, params, status, job_id, device, weights, metrics, model_path, "
               "torchscript_path, error, created_by, started_at, finished_at")


# An anti-join on the flagged images, not a correlated EXISTS per image: 0.12 s against 0.7 s at 1.2M rows.
TRAINABLE = ("FROM images i WHERE i.status = 'ok' AND i.label IS NOT NULL "
             "AND i.id NOT IN (SELECT image_id FROM flags WHERE active)")


class TrainQueries:
    def training_rows(self) -> tuple[pd.DataFrame, dict[str, int]]:
        """Usable, labelled images without an active flag; and how many were left out, and why."""
        rows = self.query_df(f"SELECT i.id AS image_id, i.sha256, i.ext, i.label {TRAINABLE} ORDER BY i.id")
        return rows, self.left_out_of_training()

    def training_label_counts(self) -> pd.DataFrame:
        """(label, images) a run would train on, grouped in SQL (a page never reads every row)."""
        return self.query_df(f"SELECT i.label, count(*) AS images {TRAINABLE} GROUP BY i.label ORDER BY i.label")

    def training_sample(self, labels: int) -> pd.DataFrame:
        """The first trainable image (sha256, ext, label) of each of the first `labels` labels."""
        return self.query_df(
            f"SELECT arg_min(i.sha256, i.id) AS sha256, arg_min(i.ext, i.id) AS ext, i.label {TRAINABLE} "
            "GROUP BY i.label ORDER BY i.label LIMIT ?", [labels])

    def left_out_of_training(self) -> dict[str, int]:
        """Usable images a run leaves out: with an active label conflict, with another active flag, unlabelled."""
        conflicts, flagged, unlabelled = self.query(
            "WITH active AS (SELECT image_id, bool_or(kind = 'label_conflict') AS conflict FROM flags WHERE active "
            "GROUP BY image_id) "
            "SELECT count(*) FILTER (WHERE a.conflict), count(*) FILTER (WHERE NOT a.conflict), "
            "count(*) FILTER (WHERE i.label IS NULL) FROM images i LEFT JOIN active a ON a.image_id = i.id "
            "WHERE i.status = 'ok'")[0]
        return {"label_conflicts": conflicts, "flagged": flagged, "unlabelled": unlabelled}

    def image_vectors(self, model: str) -> pd.DataFrame:
        """(image_id, vector) per image: its own `model` embedding, else its face that the latest
        cleaning kept as the labelled person, else its face nearest the centre (how lfw10 is labelled)."""
        return self.query_df(
            "SELECT image_id, vector FROM image_embeddings WHERE model = ? "
            "UNION ALL "
            "SELECT image_id, vector FROM (SELECT DISTINCT ON (f.image_id) f.image_id, e.vector "
            "FROM face_embeddings e JOIN faces f ON f.id = e.face_id JOIN images i ON i.id = f.image_id "
            "LEFT JOIN (SELECT face_id, arg_max(status, run_id) AS status FROM suggestions "
            "WHERE face_id IS NOT NULL GROUP BY face_id) s ON s.face_id = f.id "
            "WHERE e.model = ? AND f.image_id NOT IN (SELECT image_id FROM image_embeddings WHERE model = ?) "
            "ORDER BY f.image_id, (s.status IS DISTINCT FROM 'kept'), "
            "power((f.x1 + f.x2) / 2 - i.width / 2, 2) + power((f.y1 + f.y2) / 2 - i.height / 2, 2))",
            [model, model, model])

    def record_dataset_version(self, version: str, images: int, labels: dict, left_out: dict, path: str) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR IGNORE INTO dataset_versions VALUES (?, ?, ?, ?, ?, ?)",
                        [version, utcnow(), images, json.dumps(labels), json.dumps(left_out), path])

    def create_run(self, arch: str, version: str, params: dict, job_id: int | None, created_by: str | None) -> int:
        with self.transaction() as cur:
            run_id = next_id(cur, "runs")
            cur.execute(
                "INSERT INTO runs (id, arch, dataset_version, params, status, job_id, created_by, started_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                [run_id, arch, version, json.dumps(params), job_id, created_by, utcnow()])
        return run_id

    def add_epoch(self, run_id: int, f: dict) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO run_epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [run_id, f["epoch"], f["train_loss"], f["train_accuracy"], f["val_loss"],
                         f["val_accuracy"], f["seconds"]])

    def finish_run(self, run_id: int, status: str, result: dict | None = None, error: str | None = None,
                   model_path: str | None = None, torchscript_path: str | None = None,
                   predictions: str | None = None) -> None:
        """End a run; with `predictions` (a Parquet file) its predictions are recorded in the same transaction."""
        result = result or {}
        with self.transaction() as cur:
            if predictions:
                cur.execute(
                    "INSERT INTO predictions SELECT ?, image_id, label, predicted, confidence, loss, split "
                    "FROM read_parquet(?)", [run_id, predictions])
            cur.execute(
                "UPDATE runs SET status = ?, metrics = ?, device = ?, weights = ?, error = ?, model_path = ?, "
                "torchscript_path = ?, finished_at = ? WHERE id = ?",
                [status, json.dumps(result.get("metrics")) if result.get("metrics") else None, result.get("device"),
                 result.get("weights"), error, model_path, torchscript_path, utcnow(), run_id])

    def runs(self) -> list[dict]:
        return [run_dict(r) for r in self.query(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC")]

    def run(self, run_id: int) -> dict | None:
        rows = self.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", [run_id])
        return run_dict(rows[0]) if rows else None

    def run_of_job(self, job_id: int) -> dict | None:
        rows = self.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?", [job_id])
        return run_dict(rows[0]) if rows else None

    def run_epochs(self, run_id: int) -> pd.DataFrame:
        return self.query_df("SELECT * EXCLUDE (run_id) FROM run_epochs WHERE run_id = ? ORDER BY epoch", [run_id])

    def prediction_counts(self, run_id: int, split: str | None) -> pd.DataFrame:
        """(label, predicted, n): the confusion matrix of a run in rows, computed in SQL."""
        return self.query_df(
            "SELECT label, predicted, count(*) AS n FROM predictions WHERE run_id = ? AND (? IS NULL OR split = ?) "
            "GROUP BY label, predicted ORDER BY label, predicted", [run_id, split, split])

    def run_classes(self, run_id: int) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT DISTINCT label FROM predictions WHERE run_id = ? UNION SELECT DISTINCT predicted FROM predictions "
            "WHERE run_id = ? ORDER BY 1", [run_id, run_id])]

    def cell_predictions(self, run_id: int, label: str, predicted: str, split: str | None, limit: int = 96):
        """The images behind one confusion-matrix cell, highest loss first."""
        return self.query_df(
            "SELECT image_id, confidence, loss, split FROM predictions WHERE run_id = ? AND label = ? "
            "AND predicted = ? AND (? IS NULL OR split = ?) ORDER BY loss DESC, image_id LIMIT ?",
            [run_id, label, predicted, split, split, limit])

    def top_losses(self, run_id: int, split: str | None, limit: int = 24):
        return self.query_df(
            "SELECT image_id, label, predicted, confidence, loss, split FROM predictions WHERE run_id = ? "
            "AND (? IS NULL OR split = ?) ORDER BY loss DESC, image_id LIMIT ?", [run_id, split, split, limit])

    def changed_predictions(self, run_a: int, run_b: int, limit: int = 96):
        """Images both runs predicted, whose prediction differs, with both predictions."""
        return self.query_df(
            "SELECT b.image_id, b.label, a.predicted AS before, b.predicted AS after, b.confidence, b.split "
            "FROM predictions a JOIN predictions b ON a.image_id = b.image_id "
            "WHERE a.run_id = ? AND b.run_id = ? AND a.predicted <> b.predicted ORDER BY b.image_id LIMIT ?",
            [run_a, run_b, limit])

    def export_predictions(self, run_id: int | None = None, batch_rows: int | None = None):
        """One row per (run, source): DESIGN.md's predictions export; every run unless one is named
        (with `batch_rows`: Arrow batches, streamed)."""
        return self.query_frame_or_batches(
            "SELECT p.run_id AS run, s.source, p.label, p.predicted, p.confidence, p.loss, p.split "
            "FROM predictions p JOIN sources s ON s.image_id = p.image_id WHERE ? IS NULL OR p.run_id = ? "
            "ORDER BY p.run_id, s.source", [run_id, run_id], batch_rows)


def run_dict(row) -> dict:
    names = [c.strip() for c in RUN_COLUMNS.split(",")]
    run = dict(zip(names, row))
    run["params"] = json.loads(run["params"] or "{}")
    run["metrics"] = json.loads(run["metrics"]) if run["metrics"] else {}
    return run
