"""Ingest queries: what the project already holds, and writing one chunk of outcomes."""

from __future__ import annotations

import numpy as np

from .db import executemany, insert_rows, next_id, utcnow


# Failures that say nothing about the file's bytes and may pass another time (a permission fixed,
# a disk back): a re-ingest tries these sources again instead of counting them as known.
RETRYABLE_REASONS = ("unreadable_file",)


class IngestQueries:
    def known_sources(self, sources: list[str]) -> set[str]:
        """The sources the project holds, less those that failed for a reason that may change."""
        if not sources:
            return set()
        rows = self.query(
            "SELECT s.source FROM sources s JOIN images i ON i.id = s.image_id WHERE s.source IN (SELECT unnest(?)) "
            "AND NOT (i.status = 'failed' AND i.reason IN (SELECT unnest(?)))", [sources, list(RETRYABLE_REASONS)])
        return {r[0] for r in rows}

    def phash_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, perceptual hashes, near-duplicate groups or -1) of every usable image."""
        cur = self.cursor()
        try:
            table = cur.execute(
                "SELECT id, phash, coalesce(near_group, -1) AS g FROM images "
                "WHERE status = 'ok' AND phash IS NOT NULL ORDER BY id"
            ).fetchnumpy()
        finally:
            cur.close()
        return table["id"], table["phash"].astype(np.uint64), table["g"]

    def record_ingest(self, batch, planner):
        """Write one chunk of outcomes; `planner(known, next_image_id)` decides what they mean."""
        with self.transaction() as cur:
            return write_chunk(cur, batch, planner, utcnow())


def write_chunk(cur, batch, planner, now):
    """Write one chunk of outcomes inside the caller's transaction; returns the plan it wrote."""
    from ..ingest import KnownImage

    shas = sorted({o.sha256 for o in batch if o.sha256})
    rows = cur.execute(
        "SELECT sha256, id, status, label FROM images WHERE sha256 IN (SELECT unnest(?))", [shas]
    ).fetchall()
    known = {sha: KnownImage(i, status, label) for sha, i, status, label in rows}
    retire_retried(cur, [o.source for o in batch])
    plan = planner(known, next_id(cur, "images"))
    insert_images(cur, plan, now)
    insert_sources(cur, plan, {o.source: o.provenance or {} for o in batch}, now)
    executemany(cur, "INSERT OR IGNORE INTO labels VALUES (?, ?)", [[name, now] for name in sorted(plan.labels)])
    executemany(cur, "UPDATE images SET label = ? WHERE id = ?", [[lb, i] for i, lb in plan.label_updates.items()])
    executemany(cur, "UPDATE images SET near_group = ? WHERE id = ?", [[g, i] for i, g in plan.near_groups.items()])
    first_flag = next_id(cur, "flags")
    executemany(
        cur,
        "INSERT INTO flags VALUES (?, ?, ?, ?, true, 'ingest', ?)",
        [[first_flag + n, i, kind, note, now] for n, (i, kind, note) in enumerate(plan.flags)],
    )
    return plan


def retire_retried(cur, sources: list[str]) -> None:
    """Sources tried again (their failure may have passed): their old failed image is kept, marked
    `retried` under a sha that frees its own, and the new outcome replaces the source's row."""
    cur.execute(
        "UPDATE images SET status = 'retried', sha256 = sha256 || '#retried-' || id::VARCHAR "
        "WHERE status = 'failed' AND reason IN (SELECT unnest(?)) "
        "AND id IN (SELECT image_id FROM sources WHERE source IN (SELECT unnest(?)))",
        [list(RETRYABLE_REASONS), sources])


# Where a downloaded image came from (a `Hit`'s fields); files from disk have none of them.
PROVENANCE_COLUMNS = ("provider", "query", "rank", "url", "page_url", "title", "creator", "license", "attribution",
                      "listed_width", "listed_height", "listed_bytes")


def insert_sources(cur, plan, provenance: dict[str, dict], now) -> None:
    rows = [[s, i, label, *(provenance.get(s, {}).get(c) for c in PROVENANCE_COLUMNS), now]
            for s, i, label in plan.sources]
    insert_rows(cur, f"INSERT OR REPLACE INTO sources (source, image_id, label_hint, {', '.join(PROVENANCE_COLUMNS)}, added_at)", rows)


def insert_images(cur, plan, now) -> None:
    rows = [
        [i, o.sha256 or f"unread:{o.source}", o.status, o.reason, o.detail, o.format, o.ext, o.width, o.height,
         o.mode, o.frames, o.normalised, o.phash, plan.near_groups.get(i), o.label, o.nbytes, now]
        for i, o in zip(plan.image_ids, plan.images)
    ]
    insert_rows(
        cur,
        "INSERT INTO images (id, sha256, status, reason, detail, format, ext, width, height, mode, frames, "
        "normalised, phash, near_group, label, bytes, added_at)",
        rows,
    )
