"""Cleaning runs and their suggestions; image attributes; accepting or rejecting a suggestion.

A run records one suggestion per face (or image, for a whole-image model) of the identities it
cleaned: `kept`; `open` (remove or relabel the image: none of its faces is the person);
`bystander` (a face that is not the person, in a photo where another face is: nothing to do); or
`ambiguous` (its identity holds two people the cleaning cannot tell apart: the face is kept until a
person chooses which is the identity's, and each reading's actions wait in identity_candidates).
Merges between identities are open suggestions without a face. A later run of the same identities
supersedes the open suggestions before it. Nothing is applied silently: accepting a suggestion is an
edit with its events (undoable), like a label or a flag.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .db import next_id, utcnow
from .edits import EditError, Events, clean_name, flag_images, ids_param, label_images

EXPORT_SUGGESTION_COLUMNS = ["source", "face", "label", "action", "target_label", "score"]
UNFIT_FLAGS = ("wrong_identity", "failed")


class CleaningQueries:
    def cleaning_units(self, model: str, subject: str) -> tuple[pd.DataFrame, np.ndarray]:
        """What a cleaning run judges: every labelled usable image's faces (or the image itself, for a
        whole-image model) with a `model` vector, images flagged wrong identity or failed left out:
        face_id (None for images), image_id, label, one column per attribute; and the vectors."""
        if subject == "face":
            source = ("SELECT f.id AS face_id, f.image_id, e.vector FROM face_embeddings e "
                      "JOIN faces f ON f.id = e.face_id WHERE e.model = ?")
        else:
            source = "SELECT NULL::BIGINT AS face_id, e.image_id, e.vector FROM image_embeddings e WHERE e.model = ?"
        units, matrix = self.rows_with_vectors(
            f"SELECT u.face_id, u.image_id, i.label, u.vector FROM ({source}) u JOIN images i ON i.id = u.image_id "
            "WHERE i.status = 'ok' AND i.label IS NOT NULL AND NOT EXISTS (SELECT 1 FROM flags g WHERE "
            "g.image_id = i.id AND g.active AND g.kind IN (SELECT unnest(?))) ORDER BY u.image_id, u.face_id",
            [model, list(UNFIT_FLAGS)])
        return self.with_attributes(units), matrix

    def with_attributes(self, units: pd.DataFrame) -> pd.DataFrame:
        """`units` with one column per defined attribute: each image's value, or None."""
        tags = self.query_df("SELECT image_id, name, value FROM image_attributes WHERE value IS NOT NULL")
        for name in self.attribute_names():
            values = tags[tags["name"] == name].set_index("image_id")["value"]
            units[f"attr:{name}"] = units["image_id"].map(values).astype(object).where(lambda v: v.notna(), None)
        return units

    def record_clean_run(self, run: dict, units: pd.DataFrame, verdicts: pd.DataFrame, merges: pd.DataFrame,
                         readings: list | None = None) -> int:
        """Record a run (model, subject, labels or None for all, same_person and where it came from,
        summary, created_by, job_id) with its suggestions; supersede the open ones it replaces.
        `readings`: per ambiguous label, its candidate readings (label, candidate, and per face the
        position in `units`, member, action, target_label, score, match)."""
        faces = units[["image_id", "face_id", "label"]].reset_index(drop=True).join(verdicts.reset_index(drop=True))
        faces["status"] = statuses(faces)
        merge_rows = merges.assign(image_id=None, face_id=None, action="merge", match=None, status="open")
        rows = pd.concat([faces, merge_rows], ignore_index=True)[
            ["image_id", "face_id", "label", "action", "target_label", "score", "match", "status"]]
        rows = rows.astype({"image_id": "Int64", "face_id": "Int64", "score": "float64", "match": "float64"})
        with self.transaction() as cur:
            now, run_id = utcnow(), next_id(cur, "clean_runs")
            cur.execute("INSERT INTO clean_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, run.get("job_id"), run["model"], run["subject"], run["labels"], run["same_person"],
                         run["same_person_source"], json.dumps(run["summary"]), run["created_by"], now])
            cur.execute("UPDATE suggestions SET status = 'superseded' WHERE status IN ('open', 'ambiguous') AND "
                        "run_id <> ? AND (? IS NULL OR label IN (SELECT unnest(?)))",
                        [run_id, run["labels"], run["labels"]])
            first = next_id(cur, "suggestions")
            cur.register("new_suggestions", rows)
            cur.execute(
                "INSERT INTO suggestions SELECT ? + row_number() OVER () - 1, ?, image_id, face_id, label, action, "
                "target_label, score, match, status, NULL, NULL FROM new_suggestions", [first, run_id])
            cur.unregister("new_suggestions")
            candidates = candidate_rows(faces, readings or [], first)
            if len(candidates):
                cur.register("new_candidates", candidates)
                cur.execute("INSERT INTO identity_candidates SELECT ?, label, candidate, suggestion_id, member, action, "
                            "target_label, score, match, status FROM new_candidates", [run_id])
                cur.unregister("new_candidates")
        return run_id

    def identity_readings(self, label: str) -> pd.DataFrame:
        """The candidate readings of `label` while its latest cleaning waits for a person to choose
        one: per reading and face, whether it is in the reading's group, the action that reading
        gives it, and the face's chip; empty when the label is not ambiguous (or was decided)."""
        return self.query_df(
            f"""
            WITH latest AS ({LATEST_PER_LABEL})
            SELECT c.run_id, c.candidate, c.suggestion_id, c.member, c.action, c.target_label, c.score, c.status,
                   s.image_id, s.face_id, f.chip, i.sha256
            FROM identity_candidates c JOIN latest ON latest.run_id = c.run_id AND latest.label = c.label
            JOIN suggestions s ON s.id = c.suggestion_id LEFT JOIN faces f ON f.id = s.face_id
            LEFT JOIN images i ON i.id = s.image_id
            WHERE c.label = ? AND s.status = 'ambiguous'
            ORDER BY c.candidate, c.member DESC, c.score DESC, c.suggestion_id
            """, [None, None, label])

    def choose_reading(self, run_id: int, label: str, candidate: int, actor: str) -> int:
        """Decide an ambiguous identity: its faces take the actions of the chosen reading (kept, or
        open suggestions to decide as usual), one undoable batch; how many faces were decided."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "review_suggestion")
        with self.transaction() as cur:
            rows = cur.execute(
                "SELECT c.suggestion_id, s.image_id, s.action, s.target_label, s.score, s.match, c.action, "
                "c.target_label, c.score, c.match, c.status FROM identity_candidates c "
                "JOIN suggestions s ON s.id = c.suggestion_id WHERE c.run_id = ? AND c.label = ? AND c.candidate = ? "
                "AND s.status = 'ambiguous' ORDER BY c.suggestion_id", [run_id, label, candidate]).fetchall()
            if not rows:
                raise EditError(f"{label} has no undecided reading {candidate} in cleaning run #{run_id}: "
                                "it was decided or cleaned again since.")
            events = Events(cur, actor, utcnow())
            for suggestion_id, image_id, *before, action, target, score, match, status in rows:
                cur.execute("UPDATE suggestions SET action = ?, target_label = ?, score = ?, match = ?, status = ?, "
                            "decided_by = ?, decided_at = ? WHERE id = ?",
                            [action, target, score, match, status, actor, events.now, suggestion_id])
                events.add("suggestion", image_id,
                           {"suggestion_id": suggestion_id, "status": "ambiguous",
                            **dict(zip(("action", "target_label", "score", "match"), before))},
                           {"suggestion_id": suggestion_id, "status": status, "action": action,
                            "target_label": target, "candidate": candidate})
        return len(rows)

    def clean_runs(self, limit: int = 20) -> pd.DataFrame:
        return self.query_df("SELECT * FROM clean_runs ORDER BY id DESC LIMIT ?", [limit])

    def identity_overview(self) -> pd.DataFrame:
        """Per label: images, and from its latest cleaning: faces kept, open removals and relabels,
        open merges, the run and the model."""
        return self.query_df(
            f"""
            WITH latest AS ({LATEST_PER_LABEL})
            SELECT l.label, l.images, s.run_id, r.model,
                   count(*) FILTER (WHERE s.status = 'kept') AS kept,
                   count(*) FILTER (WHERE s.status = 'open' AND s.action = 'remove') AS remove,
                   count(*) FILTER (WHERE s.status = 'open' AND s.action = 'relabel') AS relabel,
                   count(*) FILTER (WHERE s.status = 'open' AND s.action = 'merge') AS merge,
                   count(*) FILTER (WHERE s.status = 'ambiguous') > 0 AS ambiguous
            FROM (SELECT label, count(*) AS images FROM images WHERE status = 'ok' AND label IS NOT NULL
                  GROUP BY label) l
            LEFT JOIN latest ON latest.label = l.label
            LEFT JOIN suggestions s ON s.label = l.label AND s.run_id = latest.run_id
            LEFT JOIN clean_runs r ON r.id = latest.run_id
            GROUP BY l.label, l.images, s.run_id, r.model ORDER BY l.label
            """, [None, None])

    def identity_suggestions(self, label: str) -> pd.DataFrame:
        """The latest cleaning of `label`: every suggestion with its face's chip and box and the
        image's current label, best kept faces first, then open, decided and bystanders."""
        return self.query_df(
            f"""
            WITH latest AS ({LATEST_PER_LABEL})
            SELECT s.id, s.run_id, s.image_id, s.face_id, s.label, s.action, s.target_label, s.score, s.match,
                   s.status, s.decided_by, f.chip, f.x1, f.y1, f.x2, f.y2, i.label AS image_label, i.sha256
            FROM suggestions s JOIN latest ON latest.run_id = s.run_id AND latest.label = s.label
            LEFT JOIN faces f ON f.id = s.face_id LEFT JOIN images i ON i.id = s.image_id
            WHERE s.label = ?
            ORDER BY CASE s.status WHEN 'kept' THEN 0 WHEN 'open' THEN 1 WHEN 'accepted' THEN 2
                     WHEN 'rejected' THEN 3 ELSE 4 END, s.action, s.score DESC, s.id
            """, [None, None, label])

    def open_suggestion_counts(self) -> dict[str, int]:
        counts = dict(self.query("SELECT action, count(*) FROM suggestions WHERE status = 'open' GROUP BY action"))
        return {action: int(counts.get(action, 0)) for action in ("remove", "relabel", "merge")}

    def decide_suggestions(self, suggestion_ids, accept: bool, actor: str) -> tuple[int, int]:
        """Accept (apply) or reject open suggestions, as one undoable batch; (decided, skipped).
        A suggestion whose image was relabelled since it was made is skipped and left open."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "review_suggestion")
        with self.transaction() as cur:
            rows = cur.execute(
                "SELECT s.id, s.run_id, s.image_id, s.label, s.action, s.target_label, s.score, i.label "
                "FROM suggestions s LEFT JOIN images i ON i.id = s.image_id WHERE s.status = 'open' "
                "AND s.id IN (SELECT unnest(?)) ORDER BY s.id", [ids_param(suggestion_ids)]).fetchall()
            events = Events(cur, actor, utcnow())
            decided = 0
            for row in rows:
                decided += decide_one(cur, events, row, accept)
        return decided, len(rows) - decided

    def export_suggestions(self, model: str | None = None, batch_rows: int | None = None):
        """DESIGN.md's suggestions export: one row per source and face judged in the latest cleaning
        of each label (of `model`, if given; with `batch_rows`: Arrow batches, streamed)."""
        return self.query_frame_or_batches(
            f"""
            WITH latest AS ({LATEST_PER_LABEL})
            SELECT src.source, f.face, s.label, s.action, s.target_label, s.score
            FROM suggestions s JOIN latest ON latest.run_id = s.run_id AND latest.label = s.label
            JOIN sources src ON src.image_id = s.image_id LEFT JOIN faces f ON f.id = s.face_id
            WHERE s.action <> 'merge' ORDER BY src.source, f.face
            """, [model, model], batch_rows)

    def flag_duplicate_twins(self, twins: list[tuple[int, int, str, float]], actor: str) -> int:
        """Flag each (image, twin, twin's label, distance) as a duplicate, unless it already is."""
        with self.transaction() as cur:
            events = Events(cur, actor, utcnow())
            flagged = 0
            for image_id, twin, twin_label, distance in twins:
                already = cur.execute("SELECT count(*) FROM flags WHERE image_id = ? AND active AND kind = 'duplicate'",
                                      [image_id]).fetchall()[0][0]
                if not already:
                    flagged += flag_images(cur, events, [image_id], "duplicate",
                                           f"Same face as image #{twin}, labelled '{twin_label}' (distance {distance:.3f})")
        return flagged

    def attribute_names(self) -> list[str]:
        return [row[0] for row in self.query("SELECT name FROM attributes ORDER BY name")]

    def attributes(self) -> dict[str, list[str]]:
        return {name: list(allowed) for name, allowed in self.query("SELECT name, allowed FROM attributes ORDER BY name")}

    def define_attribute(self, name: str, allowed: list[str], actor: str | None = None) -> None:
        """Create or redefine an attribute and the values annotators may give it (an admin's action:
        in team mode, refused without an actor)."""
        self.require(actor, "edit_attributes")
        name = clean_name(name, "attribute name")
        allowed = list(dict.fromkeys(clean_name(value, "attribute value") for value in allowed))
        if not allowed:
            raise EditError(f"Give '{name}' at least one allowed value.")
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO attributes VALUES (?, ?, ?)", [name, allowed, utcnow()])

    def tag_images(self, image_ids, name: str, value: str | None, actor: str) -> int:
        """Set (or, with None, clear) an attribute on images, an event each; how many changed."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "tag")
        allowed = self.attributes().get(name)
        if allowed is None:
            raise EditError(f"There is no attribute '{name}'; define it first.")
        if value is not None and value not in allowed:
            raise EditError(f"'{value}' is not a value of {name}; choose one of {', '.join(allowed)}.")
        with self.transaction() as cur:
            return tag_rows(cur, Events(cur, actor, utcnow()), image_ids, name, value)


#: The latest run that judged each label (of one model, when the parameters name one).
LATEST_PER_LABEL = ("SELECT s.label, max(s.run_id) AS run_id FROM suggestions s JOIN clean_runs r ON r.id = s.run_id "
                    "WHERE ?::VARCHAR IS NULL OR r.model = ? GROUP BY s.label")


def statuses(faces: pd.DataFrame) -> list[str]:
    """kept; ambiguous (its label waits for a person to choose who it is); bystander (not the person,
    in a photo where a face of the label is kept); or open."""
    kept = faces["action"] == "keep"
    kept_images = set(zip(faces.loc[kept, "image_id"], faces.loc[kept, "label"]))
    ambiguous = faces["ambiguous"] if "ambiguous" in faces else pd.Series(False, index=faces.index)
    return ["ambiguous" if unsure and action == "keep" else "kept" if action == "keep"
            else "bystander" if (image, label) in kept_images else "open"
            for action, unsure, image, label in zip(faces["action"], ambiguous, faces["image_id"], faces["label"])]


def candidate_rows(faces: pd.DataFrame, readings: list, first_id: int) -> pd.DataFrame:
    """One row per reading and face of the ambiguous labels: its suggestion's id and the status that
    reading would give it."""
    parts = []
    for reading in readings:
        part = reading.faces.rename(columns={"row": "position"}).reset_index(drop=True)
        judged = faces.loc[part["position"], ["image_id", "label"]].reset_index(drop=True)
        part = part.join(judged)
        part["status"] = statuses(part.assign(ambiguous=False))
        parts.append(part.assign(candidate=reading.candidate, suggestion_id=first_id + part["position"]))
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    return rows[["label", "candidate", "suggestion_id", "member", "action", "target_label", "score", "match",
                 "status"]].astype({"suggestion_id": "int64", "candidate": "int32", "score": "float64",
                                    "match": "float64", "member": "bool"})


def decide_one(cur, events: Events, row: tuple, accept: bool) -> bool:
    suggestion_id, run_id, image_id, label, action, target, score, image_label = row
    if action != "merge" and image_label != label:
        return False
    status = "accepted" if accept else "rejected"
    cur.execute("UPDATE suggestions SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                [status, events.actor, events.now, suggestion_id])
    events.add("suggestion", image_id, {"suggestion_id": suggestion_id, "status": "open"},
               {"suggestion_id": suggestion_id, "status": status})
    if not accept:
        return True
    if action == "remove":
        flagged = cur.execute("SELECT count(*) FROM flags WHERE image_id = ? AND active AND kind = 'wrong_identity'",
                              [image_id]).fetchall()[0][0]
        if not flagged:
            flag_images(cur, events, [image_id], "wrong_identity",
                        f"Not {label}: cleaning run #{run_id} (score {score:.2f})")
    elif action == "relabel":
        label_images(cur, events, [image_id], target)
    else:
        members = [r[0] for r in cur.execute("SELECT id FROM images WHERE label = ? AND status = 'ok'", [label]).fetchall()]
        label_images(cur, events, members, target)
    return True


def tag_rows(cur, events: Events, image_ids, name: str, value: str | None) -> int:
    rows = cur.execute(
        "SELECT i.id, a.value FROM images i LEFT JOIN image_attributes a ON a.image_id = i.id AND a.name = ? "
        "WHERE i.id IN (SELECT unnest(?)) AND a.value IS DISTINCT FROM ? ORDER BY i.id",
        [name, ids_param(image_ids), value]).fetchall()
    for image_id, old in rows:
        cur.execute("INSERT OR REPLACE INTO image_attributes VALUES (?, ?, ?)", [image_id, name, value])
        events.add("tag", image_id, {"name": name, "value": old}, {"name": name, "value": value})
    return len(rows)
