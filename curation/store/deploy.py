"""Deploy queries: what a model card reports from the project's records, bundles made, and what
production sent back (feedback images and traffic)."""

from __future__ import annotations

import json

import pandas as pd

from .db import executemany, next_id, utcnow

PRODUCTION = "production"


class DeployQueries:
    def dataset_version(self, version: str) -> dict | None:
        rows = self.query("SELECT id, created_at, images, labels, left_out, path FROM dataset_versions WHERE id = ?",
                          [version])
        if not rows:
            return None
        vid, created, images, labels, left_out, path = rows[0]
        return {"id": vid, "created_at": str(created), "images": images, "labels": json.loads(labels),
                "left_out": json.loads(left_out), "path": path}

    def provenance_of(self, image_ids: list[int]) -> pd.DataFrame:
        """(provider, query, license, images) for the given images' sources; a folder on disk has no provider."""
        return self.query_df(
            "SELECT coalesce(provider, 'folder on disk') AS provider, coalesce(query, '') AS query, "
            "coalesce(license, 'unknown') AS license, count(DISTINCT image_id) AS images FROM sources "
            "WHERE image_id IN (SELECT unnest(?)) GROUP BY ALL ORDER BY images DESC, provider, query",
            [list(map(int, image_ids))])

    def cleaning_record(self) -> dict:
        """What the project set aside and who did it: failed files by reason, active flags by kind
        and by whom, accepted cleaning suggestions by action and by whom, labelling by whom."""
        failed = dict(self.query("SELECT reason, count(*) FROM images WHERE status = 'failed' GROUP BY reason "
                                 "ORDER BY 2 DESC, 1"))
        flags = [dict(zip(("kind", "by", "images"), r)) for r in self.query(
            "SELECT kind, created_by, count(DISTINCT image_id) FROM flags WHERE active GROUP BY ALL ORDER BY 3 DESC, 1, 2")]
        cleaning = [dict(zip(("action", "by", "decided"), r)) for r in self.query(
            "SELECT action, decided_by, count(*) FROM suggestions WHERE status = 'accepted' "
            "GROUP BY ALL ORDER BY 3 DESC, 1, 2")]
        labelled = [dict(zip(("by", "images"), r)) for r in self.query(
            "SELECT actor, count(DISTINCT image_id) FROM events WHERE action = 'label' GROUP BY ALL ORDER BY 2 DESC, 1")]
        clean_runs = self.query("SELECT count(*) FROM clean_runs")[0][0]
        return {"failed_by_reason": failed, "flags": flags, "cleaning_decisions": cleaning,
                "labelled_by": labelled, "cleaning_runs": clean_runs,
                "exact_duplicates": self.query("SELECT count(*) - count(DISTINCT image_id) FROM sources")[0][0]}

    def val_predictions(self, run_id: int) -> pd.DataFrame:
        return self.query_df("SELECT image_id, label, predicted, confidence FROM predictions "
                             "WHERE run_id = ? AND split = 'val' ORDER BY image_id", [run_id])

    def image_exts(self, image_ids: list[int]) -> dict[int, str]:
        return dict(self.query("SELECT id, ext FROM images WHERE id IN (SELECT unnest(?))", [list(map(int, image_ids))]))

    def normalisation_notes(self, image_ids: list[int]) -> dict[str, int]:
        """How verification changed the given images on the way in (EXIF rotation, colour modes...)."""
        return dict(self.query(
            "SELECT normalised, count(*) FROM images WHERE id IN (SELECT unnest(?)) AND normalised IS NOT NULL "
            "AND normalised <> '' GROUP BY 1 ORDER BY 2 DESC, 1", [list(map(int, image_ids))]))

    def faces_per_image(self, image_ids: list[int]) -> dict[int, int]:
        """How many of the given images hold 0, 1, 2... detected faces: {faces: images}."""
        return dict(self.query(
            "SELECT coalesce(n, 0), count(*) FROM (SELECT unnest(?) AS id) i LEFT JOIN "
            "(SELECT image_id, count(*) AS n FROM faces GROUP BY 1) f ON f.image_id = i.id GROUP BY 1 ORDER BY 1",
            [list(map(int, image_ids))]))

    def face_chips(self, image_ids: list[int], limit: int) -> list[str]:
        """Chip paths (relative to the project) of faces of the given images, for int8 calibration."""
        return [r[0] for r in self.query(
            "SELECT chip FROM faces WHERE image_id IN (SELECT unnest(?)) ORDER BY image_id, face LIMIT ?",
            [list(map(int, image_ids)), limit])]

    def record_bundle(self, run_id: int, path: str, card: dict, actor: str | None) -> int:
        with self.transaction() as cur:
            bundle_id = next_id(cur, "bundles")
            cur.execute("INSERT INTO bundles VALUES (?, ?, ?, ?, ?, ?)",
                        [bundle_id, run_id, path, json.dumps(card, default=str), actor, utcnow()])
        return bundle_id

    def latest_bundle(self) -> dict | None:
        rows = self.query("SELECT id, run_id, path, created_at FROM bundles ORDER BY id DESC LIMIT 1")
        return dict(zip(("id", "run_id", "path", "created_at"), rows[0])) if rows else None

    def known_feedback(self) -> set[str]:
        return {r[0] for r in self.query("SELECT sha256 FROM production_feedback")}

    def record_feedback(self, rows: list[dict], traffic: list[dict]) -> None:
        """Feedback entries (matched to the images ingest made of them by content) and traffic counts."""
        now = utcnow()
        with self.transaction() as cur:
            executemany(cur, "INSERT OR IGNORE INTO production_feedback SELECT ?, (SELECT id FROM images WHERE "
                             "sha256 = ?), ?, ?, ?, ?, ?, ?, ?, ?",
                        [[r["sha256"], r["sha256"], r["run_id"], r["bundle"], r["predicted"], r["confidence"],
                          r["ood"], r["ood_score"], r["logged_at"], now] for r in rows])
            executemany(cur, "INSERT OR REPLACE INTO production_traffic VALUES (?, ?, ?, ?, ?, ?)",
                        [[t["bundle"], t["hour"], t["run_id"], t["requests"], t["ood"], t["low_confidence"]]
                         for t in traffic])

    def production_loop(self) -> dict:
        """What Home shows of the loop: the deployed run, out-of-domain share per hour, images waiting."""
        traffic = self.query_df(
            "SELECT hour, sum(requests) AS requests, sum(ood) AS ood, sum(low_confidence) AS low_confidence, "
            "sum(ood) / sum(requests) AS ood_share FROM production_traffic GROUP BY hour ORDER BY hour")
        waiting = self.query(
            "SELECT count(*) FROM production_feedback p JOIN images i ON i.id = p.image_id WHERE i.label IS NULL "
            "AND i.status = 'ok'")[0][0]
        deployed = self.query("SELECT run_id FROM production_traffic ORDER BY hour DESC LIMIT 1")
        bundle = self.latest_bundle()
        return {"deployed_run": deployed[0][0] if deployed else None, "bundle": bundle, "traffic": traffic,
                "waiting": waiting, "feedback": self.query("SELECT count(*) FROM production_feedback")[0][0]}
