"""Discovered identities: the faces of unlabelled images a discovery run grouped into proposed people.

A run is kept with its groups; naming a group labels its images through the ordinary label events,
so the page lists only the faces whose image is still unlabelled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .db import next_id, utcnow


class DiscoveryQueries:
    def unlabelled_faces(self, model: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Faces of usable, unlabelled images with a `model` vector (face_id, image_id), and the vectors;
        images flagged failed are left out."""
        return self.rows_with_vectors(
            "SELECT f.id AS face_id, f.image_id, e.vector FROM face_embeddings e JOIN faces f ON f.id = e.face_id "
            "JOIN images i ON i.id = f.image_id WHERE e.model = ? AND i.status = 'ok' AND i.label IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM flags g WHERE g.image_id = i.id AND g.active AND g.kind = 'failed') "
            "ORDER BY f.id", [model])

    def record_discovery(self, run: dict, faces: pd.DataFrame) -> int:
        """Record a run (job_id, model, cut, created_by) and its grouped faces (face_id, image_id, grp,
        distance); the run's id."""
        grouped = faces[faces["grp"] >= 0][["face_id", "image_id", "grp", "distance"]].copy()
        with self.transaction() as cur:
            run_id = next_id(cur, "discover_runs")
            cur.execute("INSERT INTO discover_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, run.get("job_id"), run["model"], run["cut"], len(faces), int(grouped["grp"].nunique()),
                         run["created_by"], utcnow()])
            cur.register("discovered_frame", grouped)
            cur.execute("INSERT INTO discovered SELECT ?, face_id, image_id, grp, distance FROM discovered_frame",
                        [run_id])
            cur.unregister("discovered_frame")
        return run_id

    def latest_discovery(self) -> dict | None:
        rows = self.query_df("SELECT * FROM discover_runs ORDER BY id DESC LIMIT 1")
        return None if rows.empty else rows.iloc[0].to_dict()

    def discovered_groups(self, run_id: int) -> pd.DataFrame:
        """The run's grouped faces whose image is still unlabelled: grp, face_id, image_id, chip, distance;
        groups largest first, faces nearest their group's middle first."""
        return self.query_df(
            "SELECT d.grp, d.face_id, d.image_id, f.chip, d.distance, count(*) OVER (PARTITION BY d.grp) AS size "
            "FROM discovered d JOIN faces f ON f.id = d.face_id JOIN images i ON i.id = d.image_id "
            "WHERE d.run_id = ? AND i.label IS NULL ORDER BY size DESC, d.grp, d.distance, d.face_id", [int(run_id)])
