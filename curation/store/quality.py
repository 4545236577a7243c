"""Quality scores: what the "quality" job measured and suggested, and the suspects a page lists."""

from __future__ import annotations

import pandas as pd

from .db import utcnow


class QualityQueries:
    def quality_images(self) -> pd.DataFrame:
        """Every usable image: image_id, sha256, width, height (as displayed), label."""
        return self.query_df("SELECT id AS image_id, sha256, width, height, label FROM images "
                             "WHERE status = 'ok' ORDER BY id")

    def record_quality(self, scores: pd.DataFrame, model: str | None, job_id: int | None) -> None:
        """Replace the scores with a new run's (image_id, check, score, suspect, threshold). Scores are
        measurements, not edits: no event; flags stay where people put them."""
        frame = scores[["image_id", "check", "score", "suspect", "threshold"]].copy()
        frame["model"], frame["job_id"], frame["scored_at"] = model, job_id, utcnow()
        with self.transaction() as cur:
            cur.register("quality_frame", frame)
            cur.execute("DELETE FROM quality_scores")
            cur.execute("INSERT INTO quality_scores SELECT image_id, \"check\", score, suspect, threshold, model, "
                        "job_id, scored_at FROM quality_frame")
            cur.unregister("quality_frame")

    def quality_overview(self) -> pd.DataFrame:
        """Per check: images scored, suspects, suspects already flagged (of `kinds[check]`), threshold."""
        return self.query_df(
            "SELECT \"check\", count(*) AS scored, count(*) FILTER (WHERE suspect) AS suspects, "
            "any_value(threshold) AS threshold, any_value(model) AS model, max(scored_at) AS scored_at "
            "FROM quality_scores GROUP BY \"check\" ORDER BY \"check\"")

    def quality_suspects(self, check: str, flag_kind: str, direction: str) -> pd.DataFrame:
        """The suspects of one check, worst first (lowest score for a "below" check): image_id, sha256,
        label, score, flagged (an active `flag_kind` flag already)."""
        return self.query_df(
            "SELECT q.image_id, i.sha256, i.label, q.score, EXISTS (SELECT 1 FROM flags f WHERE f.image_id = "
            "q.image_id AND f.active AND f.kind = ?) AS flagged FROM quality_scores q JOIN images i ON i.id = q.image_id "
            "WHERE q.\"check\" = ? AND q.suspect ORDER BY CASE WHEN ? = 'below' THEN q.score ELSE -q.score END, "
            "q.image_id", [flag_kind, check, direction])

    def quality_scores_of(self, check: str) -> pd.Series:
        """Every image's score for one check (index: image_id)."""
        frame = self.query_df("SELECT image_id, score FROM quality_scores WHERE \"check\" = ? ORDER BY image_id",
                              [check])
        return frame.set_index("image_id")["score"]
