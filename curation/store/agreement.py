"""More than one annotator per image: overlap images labelled blind, gold images, adjudication.

An admin sets an overlap share; an image is an overlap image when the first four hex digits of its
SHA-256 (uniform, and fixed for the image) fall under that share of 65,536, so the same images stay
chosen as the project grows. Overlap and gold images are *blind*: the grid hides their label, and
each annotator's label on one is their own row in `blind_labels` (an event `blind_label` each),
never overwriting the image's label; only an unlabelled image takes its first blind label as its
label too. Where blind labels differ, a reviewer decides: the decision is an `adjudications` row,
an `adjudicate` event and the image's label (a `label` event); every blind label stays.
"""

from __future__ import annotations

import pandas as pd

from .db import next_id, utcnow
from .edits import REVERTERS, EditError, Events, clean_name, ids_param, label_images

OVERLAP_KEY = "overlap_share"
MAX_OVERLAP = 1.0
#: An image is an overlap image (its sha256's first 4 hex digits under share x 65536).
OVERLAP_SQL = "coalesce(try_cast('0x' || substr(i.sha256, 1, 4) AS INTEGER), 65536) < ? * 65536"
BLIND_SQL = f"({OVERLAP_SQL} OR i.id IN (SELECT image_id FROM gold_labels WHERE label IS NOT NULL))"


class AgreementQueries:
    def overlap_share(self) -> float:
        rows = self.query("SELECT value FROM meta WHERE key = ?", [OVERLAP_KEY])
        return float(rows[0][0]) if rows else 0.0

    def set_overlap_share(self, share: float, actor: str) -> None:
        """The share of images (0 to 1) that get a second, blind label."""
        self.require(clean_name(actor, "annotator name"), "settings")
        if not 0 <= share <= MAX_OVERLAP:
            raise EditError("The overlap share is a fraction between 0 and 1 (0.1 for 10%).")
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [OVERLAP_KEY, str(float(share))])

    def blind_ids(self, image_ids) -> set[int]:
        """Which of these images are labelled blind (overlap or gold)."""
        ids = ids_param(image_ids)
        if not ids:
            return set()
        return {r[0] for r in self.query(f"SELECT i.id FROM images i WHERE i.id IN (SELECT unnest(?)) AND {BLIND_SQL}",
                                         [ids, self.overlap_share()])}

    def gold_ids(self, image_ids) -> set[int]:
        return {r[0] for r in self.query("SELECT image_id FROM gold_labels WHERE label IS NOT NULL "
                                         "AND image_id IN (SELECT unnest(?))", [ids_param(image_ids)])}

    def own_blind_labels(self, image_ids, actor: str) -> dict[int, str]:
        return dict(self.query("SELECT image_id, label FROM blind_labels WHERE annotator = ? AND label IS NOT NULL "
                               "AND image_id IN (SELECT unnest(?))", [actor, ids_param(image_ids)]))

    def label_as(self, image_ids, label: str, actor: str) -> tuple[int, int]:
        """Label images as `actor`, one batch: blind images get the actor's blind label, the others
        their label. Returns (labelled, blind)."""
        label, actor = clean_name(label, "label"), clean_name(actor, "annotator name")
        self.require(actor, "label")
        blind = self.blind_ids(image_ids)
        with self.transaction() as cur:
            events = Events(cur, actor, utcnow())
            plain = label_images(cur, events, [i for i in ids_param(image_ids) if i not in blind], label)
            for image_id in sorted(blind):
                blind_label(cur, events, image_id, label)
        return plain, len(blind)

    def mark_gold(self, image_ids, actor: str, unmark: bool = False) -> int:
        """Mark images gold with their current label as the known answer (or unmark them)."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "settings")
        with self.transaction() as cur:
            rows = cur.execute("SELECT id, label FROM images WHERE id IN (SELECT unnest(?)) AND status = 'ok' "
                               "AND (label IS NOT NULL OR ?) ORDER BY id", [ids_param(image_ids), unmark]).fetchall()
            events = Events(cur, actor, utcnow())
            for image_id, label in rows:
                old = cur.execute("SELECT label FROM gold_labels WHERE image_id = ?", [image_id]).fetchall()
                new = None if unmark else label
                cur.execute("INSERT OR REPLACE INTO gold_labels VALUES (?, ?, ?, ?)", [image_id, new, actor, events.now])
                events.add("gold", image_id, {"gold": old[0][0] if old else None}, {"gold": new})
        return len(rows)

    def adjudicate(self, image_id: int, label: str, actor: str) -> None:
        """A reviewer's decision on an image whose blind labels differ; the blind labels stay."""
        label, actor = clean_name(label, "label"), clean_name(actor, "annotator name")
        self.require(actor, "adjudicate")
        with self.transaction() as cur:
            events = Events(cur, actor, utcnow())
            decision = next_id(cur, "adjudications")
            cur.execute("INSERT INTO adjudications VALUES (?, ?, ?, ?, ?)", [decision, image_id, label, actor, events.now])
            blind = dict(cur.execute("SELECT annotator, label FROM blind_labels WHERE image_id = ? "
                                     "AND label IS NOT NULL ORDER BY annotator", [image_id]).fetchall())
            events.add("adjudicate", image_id, {"blind_labels": blind}, {"label": label, "adjudication": decision})
            label_images(cur, events, [image_id], label)

    def blind_labels(self, image_ids=None) -> pd.DataFrame:
        """(image_id, annotator, label) of every blind label given (of these images, or all)."""
        return self.query_df(
            "SELECT image_id, annotator, label FROM blind_labels WHERE label IS NOT NULL "
            "AND (? IS NULL OR image_id IN (SELECT unnest(?))) ORDER BY image_id, annotator",
            [None if image_ids is None else 1, ids_param(image_ids or [])])

    def gold_labels(self) -> dict[int, str]:
        return dict(self.query("SELECT image_id, label FROM gold_labels WHERE label IS NOT NULL"))

    def agreement_tags(self) -> pd.DataFrame:
        """(image_id, name, value) of the tags on images that have blind labels (for the subgroup split)."""
        return self.query_df("SELECT t.image_id, t.name, t.value FROM image_attributes t WHERE t.value IS NOT NULL "
                             "AND t.image_id IN (SELECT image_id FROM blind_labels WHERE label IS NOT NULL)")

    def agreement_summary(self) -> dict:
        """`report --json`'s "agreement": overlap share, alpha, pairwise kappa, gold accuracy, open disagreements."""
        from ..agreement import summary

        return summary(self.blind_labels(), self.gold_labels(), self.overlap_share(), self.open_disagreements())

    def open_disagreements(self) -> int:
        from .queues import queue_clause

        # Only images with a blind label can disagree: naming them first spares the queue's test on
        # every other image (1.2M images: 41 ms -> 5 ms for `report`).
        return self.query("SELECT count(*) FROM images i WHERE i.id IN (SELECT image_id FROM blind_labels) "
                          f"AND i.status = 'ok' AND {queue_clause('disagreements')}")[0][0]


def blind_label(cur, events: Events, image_id: int, label: str) -> None:
    """The actor's blind label on one image (their earlier one replaced); an unlabelled image takes it."""
    old = cur.execute("SELECT label FROM blind_labels WHERE image_id = ? AND annotator = ?",
                      [image_id, events.actor]).fetchall()
    before = old[0][0] if old else None
    if before == label:
        return
    cur.execute("INSERT OR REPLACE INTO blind_labels VALUES (?, ?, ?, ?)", [image_id, events.actor, label, events.now])
    events.add("blind_label", image_id, {"label": before}, {"label": label})
    if cur.execute("SELECT label IS NULL FROM images WHERE id = ?", [image_id]).fetchall()[0][0]:
        label_images(cur, events, [image_id], label)


def revert_blind_label(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    actor = cur.execute("SELECT actor FROM events WHERE id = ?", [event_id]).fetchall()[0][0]
    row = cur.execute("SELECT label FROM blind_labels WHERE image_id = ? AND annotator = ?", [image_id, actor]).fetchall()
    current = {"label": row[0][0] if row else None}
    if current["label"] != after["label"]:
        events.add("undo_skipped", image_id, current, current, undoes=event_id)
        return False
    cur.execute("UPDATE blind_labels SET label = ?, labelled_at = ? WHERE image_id = ? AND annotator = ?",
                [before["label"], events.now, image_id, actor])
    events.add("undo", image_id, current, {"label": before["label"]}, undoes=event_id)
    return True


REVERTERS["blind_label"] = revert_blind_label
