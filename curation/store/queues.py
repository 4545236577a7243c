"""Work queues (the images an annotator works through next) and the latest run's predictions.

A queue is one `Queue` definition: a name, a title, and the SQL that picks and orders its images
(`QUEUES`, at the end). Adding a source of work (for example images from production) is one more
entry there.
"""

from __future__ import annotations

from dataclasses import dataclass

LATEST_RUN = "(SELECT max(id) FROM runs WHERE status = 'done')"


@dataclass(frozen=True)
class Queue:
    name: str
    title: str
    #: SELECT image_id, sort_key: the queue's images, worked through in ascending sort_key.
    select: str
    help: str = ""


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
