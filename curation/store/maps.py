"""What the map lays out and draws: every face (or image) with a vector of one model, in key order.

The job reads the vectors (`map_vectors`); the page reads, without the vectors and without a pandas
row per point, each point's image and its colour: its label, its latest cleaning verdict (the latest
cleaning's action and status, e.g. "relabel (open)"; "not cleaned") or its active flags (`map_colours`).
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

FACE_UNITS = ("SELECT f.id AS key, f.image_id{vector} FROM face_embeddings e "
              "JOIN faces f ON f.id = e.face_id WHERE e.model = ?")
IMAGE_UNITS = "SELECT e.image_id AS key, e.image_id{vector} FROM image_embeddings e WHERE e.model = ?"
COLOURS = {
    "label": "coalesce(i.label, '(unlabelled)')",
    "verdict": """CASE WHEN s.status IS NULL THEN 'not cleaned'
                       WHEN s.status IN ('kept', 'bystander') THEN s.status
                       ELSE s.action || ' (' || s.status || ')' END""",
    "flags": "coalesce(g.flags, 'no flag')",
}


class MapQueries:
    def map_vectors(self, model: str, subject: str) -> tuple[np.ndarray, np.ndarray]:
        """The keys (face or image ids) of the usable points, sorted, and their vectors in that order."""
        points, matrix = self.rows_with_vectors(
            f"""WITH u AS ({units(subject)})
                SELECT u.key, u.vector FROM u JOIN images i ON i.id = u.image_id
                WHERE i.status = 'ok' ORDER BY u.key""", [model])
        return points["key"].to_numpy(np.int64), matrix

    def map_colours(self, model: str, subject: str, colour_by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                              list[str]]:
        """Of the points `map_vectors` gives, in its order: keys, image ids, and each point's colour value
        as a code into the list of values (label, verdict or flags, as `colour_by` says)."""
        table = self.query_arrow(
            f"""
                WITH u AS ({units(subject, vectors=False)})
                SELECT u.key, u.image_id, {COLOURS[colour_by]} AS colour
                FROM u JOIN images i ON i.id = u.image_id {colour_joins(subject, colour_by)}
                WHERE i.status = 'ok' ORDER BY u.key
            """, [model])
        colours = pc.dictionary_encode(table.column("colour")).combine_chunks()
        codes = colours.indices.to_numpy(zero_copy_only=False).astype(np.int32) if len(colours) else np.zeros(0, np.int32)
        return (table.column("key").to_numpy().astype(np.int64), table.column("image_id").to_numpy().astype(np.int64),
                codes, colours.dictionary.to_pylist())

    def map_pictures(self, subject: str, keys: list[int]) -> list[tuple[str | None, str]]:
        """(face chip or None, image sha256) of each point, in the order of `keys`."""
        chip = "f.chip" if subject == "face" else "NULL::VARCHAR"
        source = "faces f JOIN images i ON i.id = f.image_id" if subject == "face" else "images i"
        key = "f.id" if subject == "face" else "i.id"
        found = {k: (c, sha) for k, c, sha in self.query(
            f"SELECT {key}, {chip}, i.sha256 FROM {source} WHERE {key} IN (SELECT unnest(?))", [list(keys)])}
        return [found[k] for k in keys]


def colour_joins(subject: str, colour_by: str) -> str:
    """The joins a colouring reads, and only those: a label needs none, and joining a million faces to
    the latest cleaning's suggestions and to the flags for nothing tripled the query's time."""
    if colour_by == "verdict":
        face_key = "s.face_id = u.key" if subject == "face" else "s.face_id IS NULL AND s.image_id = u.key"
        return f"""LEFT JOIN (
                       SELECT s.face_id, s.image_id, s.action, s.status FROM suggestions s
                       JOIN (SELECT label, max(run_id) AS run_id FROM suggestions GROUP BY label) latest
                         ON latest.label = s.label AND latest.run_id = s.run_id
                       WHERE s.action <> 'merge') s ON {face_key} AND s.image_id = u.image_id"""
    if colour_by == "flags":
        return """LEFT JOIN (SELECT image_id, string_agg(DISTINCT kind, ', ' ORDER BY kind) AS flags
                             FROM flags WHERE active GROUP BY image_id) g ON g.image_id = u.image_id"""
    return ""


def units(subject: str, vectors: bool = True) -> str:
    """The points of a model: faces with a face vector, or images with an image vector; without the vector
    column when not `vectors` (DuckDB would otherwise read every 128-float vector only to drop it: the
    colours of a million faces take half the time without it)."""
    query = FACE_UNITS if subject == "face" else IMAGE_UNITS
    return query.format(vector=", e.vector" if vectors else "")
