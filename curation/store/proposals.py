"""Attribute values proposed from the tags: what the "propose" job suggested, the open ones, and
confirming them (the tags they become are ordinary tag events, one batch, so undo reverts them).

A proposal is open while its image carries no tag of the attribute; once tagged (confirmed, or
tagged otherwise by hand) it is settled, so nothing but tags needs a status."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cleaning import tag_rows
from .db import utcnow
from .edits import EditError, Events, clean_name, ids_param

USABLE_FACES = ("SELECT f.image_id, f.x1, f.y1, f.x2, f.y2, i.width, i.height, e.vector FROM face_embeddings e "
                "JOIN faces f ON f.id = e.face_id JOIN images i ON i.id = f.image_id "
                "WHERE e.model = ? AND i.status = 'ok' ORDER BY f.image_id, f.face")
USABLE_IMAGES = ("SELECT e.image_id, e.vector FROM image_embeddings e JOIN images i ON i.id = e.image_id "
                 "WHERE e.model = ? AND i.status = 'ok' ORDER BY e.image_id")


class ProposalQueries:
    def proposal_units(self, model: str, subject: str, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Every usable image's `model` vectors (faces with their boxes and the image's size, or the
        image's one vector) with the image's `name` tag (None where untagged)."""
        units, matrix = self.rows_with_vectors(USABLE_FACES if subject == "face" else USABLE_IMAGES, [model])
        tags = dict(self.query("SELECT image_id, value FROM image_attributes WHERE name = ? AND value IS NOT NULL",
                               [name]))
        units["tag"] = units["image_id"].map(tags).astype(object).where(lambda v: v.notna(), None)
        return units, matrix

    def record_proposals(self, name: str, proposals: pd.DataFrame, model: str, job_id: int | None) -> None:
        """Replace `name`'s proposals with a run's (image_id, value, confidence). Proposals are
        measurements, not edits: no event; tags change only when a person confirms."""
        frame = proposals[["image_id", "value", "confidence"]].copy()
        frame["name"], frame["model"], frame["job_id"], frame["proposed_at"] = name, model, job_id, utcnow()
        with self.transaction() as cur:
            cur.register("proposal_frame", frame)
            cur.execute("DELETE FROM attribute_proposals WHERE name = ?", [name])
            cur.execute("INSERT INTO attribute_proposals SELECT image_id, name, value, confidence, model, job_id, proposed_at "
                        "FROM proposal_frame")
            cur.unregister("proposal_frame")

    def open_proposals(self, name: str) -> pd.DataFrame:
        """`name`'s proposals whose image is still untagged: image_id, sha256, label, value, confidence;
        most confident first."""
        return self.query_df(
            "SELECT p.image_id, i.sha256, i.label, p.value, p.confidence FROM attribute_proposals p "
            "JOIN images i ON i.id = p.image_id WHERE p.name = ? AND i.status = 'ok' AND NOT EXISTS (SELECT 1 FROM "
            "image_attributes a WHERE a.image_id = p.image_id AND a.name = p.name AND a.value IS NOT NULL) "
            "ORDER BY p.confidence DESC, p.image_id", [name])

    def confirm_proposals(self, image_ids, name: str, actor: str) -> int:
        """Tag the images with their open proposals of `name`, one batch of tag events; how many."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "tag")
        if name not in self.attributes():
            raise EditError(f"There is no attribute '{name}'; define it first.")
        allowed = set(self.attributes()[name])
        with self.transaction() as cur:
            rows = cur.execute(
                "SELECT p.image_id, p.value FROM attribute_proposals p WHERE p.name = ? AND p.image_id IN "
                "(SELECT unnest(?)) AND NOT EXISTS (SELECT 1 FROM image_attributes a WHERE a.image_id = p.image_id "
                "AND a.name = p.name AND a.value IS NOT NULL)", [name, ids_param(image_ids)]).fetchall()
            events, done = Events(cur, actor, utcnow()), 0
            for value in sorted({value for _, value in rows} & allowed):
                done += tag_rows(cur, events, [i for i, v in rows if v == value], name, value)
        return done

    def has_proposals(self) -> bool:
        """Whether any proposal is stored (open or not): without one, `proposal_overview` has nothing to add."""
        return bool(self.query("SELECT EXISTS (SELECT 1 FROM attribute_proposals)")[0][0])

    def proposal_overview(self) -> pd.DataFrame:
        """Per attribute and value, among usable labelled images (the audited ones): confirmed (tagged)
        and proposed (an open proposal), the two sources the audit's figures can rest on."""
        return self.query_df(
            """
            WITH audited AS (SELECT id FROM images WHERE status = 'ok' AND label IS NOT NULL),
            confirmed AS (SELECT a.name, a.value, count(*) AS n FROM image_attributes a JOIN audited ON audited.id = a.image_id
                          WHERE a.value IS NOT NULL GROUP BY ALL),
            proposed AS (SELECT p.name, p.value, count(*) AS n FROM attribute_proposals p JOIN audited ON audited.id = p.image_id
                         WHERE NOT EXISTS (SELECT 1 FROM image_attributes a WHERE a.image_id = p.image_id AND
                         a.name = p.name AND a.value IS NOT NULL) GROUP BY ALL)
            SELECT coalesce(c.name, p.name) AS attribute, coalesce(c.value, p.value) AS value,
                   coalesce(c.n, 0) AS confirmed, coalesce(p.n, 0) AS proposed
            FROM confirmed c FULL JOIN proposed p ON p.name = c.name AND p.value = c.value ORDER BY attribute, value
            """)
