"""Work queues (the images an annotator works through next), the latest run's predictions, and
the annotator's pace.

A queue is one `Queue` definition: which images are in it now (a condition on `images i`) and the
order to take them in (an expression on `i` that still has a value once the image has left the
queue, so "the next one" is always defined). Adding a source of work, say images from production,
is one more entry in `QUEUES`. An image leaves a queue when the work is done: it gets a label, its
flags are cleared, its suggestion is decided, a reviewer settles its disagreement, or (for the
model's doubts) anyone changes it after the run.
"""

from __future__ import annotations

from dataclasses import dataclass

LATEST_RUN = "(SELECT max(id) FROM runs WHERE status = 'done')"
#: Gaps between one annotator's actions longer than this are breaks, not work.
PACE_BREAK_SECONDS = 300
#: Below this confidence a prediction is a doubt even when it agrees with the label.
DOUBT_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Queue:
    name: str
    title: str
    members: str
    order: str = "i.id"
    help: str = ""


QUEUES: dict[str, Queue] = {q.name: q for q in (
    Queue("unlabelled", "Unlabelled", "i.label IS NULL", help="Usable images without a label, oldest first."),
    Queue("doubts", "Model's doubts",
          f"i.id IN (SELECT p.image_id FROM predictions p WHERE p.run_id = {LATEST_RUN} "
          f"AND (p.predicted <> p.label OR p.confidence < {DOUBT_CONFIDENCE})) "
          "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.image_id = i.id "
          f"AND e.happened_at > (SELECT finished_at FROM runs WHERE id = {LATEST_RUN}))",
          order=f"-coalesce((SELECT p.loss FROM predictions p WHERE p.run_id = {LATEST_RUN} AND p.image_id = i.id), 0)",
          help="The latest run's predictions that disagree with the label or are unsure, highest loss first."),
    Queue("cleaning", "Cleaning suggestions",
          "EXISTS (SELECT 1 FROM suggestions s WHERE s.image_id = i.id AND s.status = 'open' "
          "AND s.action IN ('remove', 'relabel'))",
          order="-coalesce((SELECT max(s.score) FROM suggestions s WHERE s.image_id = i.id), 0)",
          help="Images a cleaning run suggests removing or relabelling, surest first (decide them on Clusters)."),
    Queue("flagged", "Flagged for review", "EXISTS (SELECT 1 FROM flags f WHERE f.image_id = i.id AND f.active)",
          help="Images with an active flag: fix them and clear the flag (X)."),
    Queue("disagreements", "Disagreements",
          # The disagreeing images are found first and each image checked against that small set: a
          # subquery per image (EXISTS ... WHERE b.image_id = i.id) took 0.4 s at 1.2M images.
          "i.id IN (SELECT d.image_id FROM (SELECT image_id FROM blind_labels WHERE label IS NOT NULL "
          "GROUP BY image_id HAVING count(DISTINCT label) > 1) d "
          "WHERE NOT EXISTS (SELECT 1 FROM adjudications a WHERE a.image_id = d.image_id AND a.decided_at >= "
          "(SELECT max(b.labelled_at) FROM blind_labels b WHERE b.image_id = d.image_id)))",
          help="Overlap images whose blind labels differ: a reviewer decides (Review, Disagreements)."),
)}


def queue_clause(name: str) -> str:
    return f"({QUEUES[name].members})"


class QueueQueries:
    def latest_run_id(self) -> int | None:
        return self.query(f"SELECT {LATEST_RUN}")[0][0]

    def latest_predictions(self, image_ids: list[int]) -> dict[int, tuple[str, float]]:
        """(predicted label, confidence) per image from the latest finished training run."""
        if not image_ids:
            return {}
        rows = self.query(
            f"SELECT image_id, predicted, confidence FROM predictions WHERE run_id = {LATEST_RUN} "
            "AND image_id IN (SELECT unnest(?))", [[int(i) for i in image_ids]])
        return {image_id: (predicted, confidence) for image_id, predicted, confidence in rows}

    def queue_counts(self) -> dict[str, int]:
        """How many usable images remain in each queue."""
        return {name: self.query(f"SELECT count(*) FROM images i WHERE i.status = 'ok' AND {queue_clause(name)}")[0][0]
                for name in QUEUES}

    def seconds_per_image(self, actor: str) -> float | None:
        """The annotator's pace: working time (gaps between their actions, breaks left out) per image
        they changed; None before they have done enough to tell."""
        rows = self.query(
            "WITH b AS (SELECT batch, min(happened_at) AS started, count(DISTINCT image_id) AS n FROM events "
            "WHERE actor = ? AND undoes IS NULL GROUP BY batch), "
            "g AS (SELECT n, epoch(started - lag(started) OVER (ORDER BY started)) AS gap FROM b) "
            "SELECT sum(gap), sum(n) FROM g WHERE gap IS NOT NULL AND gap <= ?", [actor, PACE_BREAK_SECONDS])
        seconds, images = rows[0]
        return None if not images or images < 3 or not seconds else float(seconds) / images
