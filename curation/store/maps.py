"""What the map draws: every face (or image) with a vector of one model, with its label, its latest
cleaning verdict and its active flags, and the vectors in the same order."""

from __future__ import annotations

import numpy as np
import pandas as pd

FACE_UNITS = ("SELECT f.id AS key, f.image_id, f.chip, e.vector FROM face_embeddings e "
              "JOIN faces f ON f.id = e.face_id WHERE e.model = ?")
IMAGE_UNITS = ("SELECT e.image_id AS key, e.image_id, NULL::VARCHAR AS chip, e.vector FROM image_embeddings e "
               "WHERE e.model = ?")


class MapQueries:
    def map_points(self, model: str, subject: str) -> tuple[pd.DataFrame, np.ndarray]:
        """key (face or image id), image_id, label, chip, sha256, verdict (the latest cleaning's action
        and status, e.g. "relabel (open)"; "not cleaned"), flags (active kinds); and the vectors."""
        face_key = "s.face_id = u.key" if subject == "face" else "s.face_id IS NULL AND s.image_id = u.key"
        points, matrix = self.rows_with_vectors(
            f"""
                WITH u AS ({FACE_UNITS if subject == "face" else IMAGE_UNITS}),
                latest AS (SELECT label, max(run_id) AS run_id FROM suggestions GROUP BY label),
                verdicts AS (
                    SELECT s.face_id, s.image_id, s.action, s.status FROM suggestions s
                    JOIN latest ON latest.label = s.label AND latest.run_id = s.run_id WHERE s.action <> 'merge'),
                flagged AS (SELECT image_id, string_agg(DISTINCT kind, ', ' ORDER BY kind) AS flags
                            FROM flags WHERE active GROUP BY image_id)
                SELECT u.key, u.image_id, i.label, u.chip, i.sha256,
                       CASE WHEN s.status IS NULL THEN 'not cleaned'
                            WHEN s.status IN ('kept', 'bystander') THEN s.status
                            ELSE s.action || ' (' || s.status || ')' END AS verdict,
                       coalesce(g.flags, 'no flag') AS flags, u.vector
                FROM u JOIN images i ON i.id = u.image_id
                LEFT JOIN verdicts s ON {face_key} AND s.image_id = u.image_id
                LEFT JOIN flagged g ON g.image_id = u.image_id
                WHERE i.status = 'ok' ORDER BY u.key
            """, [model])
        points["label"] = points["label"].fillna("(unlabelled)")
        return points, matrix
