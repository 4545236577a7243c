"""Gather queries: the queries of a gather job, every hit's download outcome, and their figures.

`downloads` has one row per hit per run. A URL's outcome is its latest row: a re-run reuses it
(a re-run skips what is done), and the report counts each URL once by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .db import insert_rows, next_id, utcnow
from .ingest import write_chunk

LATEST_PER_URL = "QUALIFY row_number() OVER (PARTITION BY url ORDER BY id DESC) = 1"


@dataclass(frozen=True)
class PriorDownload:
    status: str
    reason: str | None
    detail: str | None
    image_id: int | None


@dataclass(frozen=True)
class QueryProgress:
    position: int
    query: str
    label: str
    wanted: int
    found: int | None
    error: str | None
    done: int
    ok: int
    failed: int
    refused: int


class GatherQueries:
    def record_gather_queries(self, job_id: int, provider: str, queries: list[tuple[str, str]], wanted: int) -> None:
        """The (label, query) pairs a gather job searches, in order, before any is searched."""
        with self.transaction() as cur:
            insert_rows(cur, "INSERT INTO gather_queries (job_id, position, provider, query, label, wanted)",
                        [[job_id, n, provider, query, label, wanted] for n, (label, query) in enumerate(queries)])

    def record_search(self, job_id: int, position: int, found: int, error: str | None) -> None:
        with self.transaction() as cur:
            cur.execute("UPDATE gather_queries SET found = ?, error = ? WHERE job_id = ? AND position = ?",
                        [found, error, job_id, position])

    def prior_downloads(self, urls: list[str]) -> dict[str, PriorDownload]:
        """The latest outcome of each of `urls` that was downloaded (or tried) before."""
        if not urls:
            return {}
        rows = self.query(
            f"SELECT url, status, reason, detail, image_id FROM downloads WHERE url IN (SELECT unnest(?)) {LATEST_PER_URL}",
            [urls])
        return {url: PriorDownload(*rest) for url, *rest in rows}

    def record_downloads(self, records, outcomes, planner) -> None:
        """Hits' outcomes, and the ingest of what they fetched (`write_chunk`), in one transaction.

        A record's image is the one its URL became in this chunk, else the one it carries (an
        outcome reused from an earlier run).
        """
        with self.transaction() as cur:
            now = utcnow()
            image_of = {}
            if outcomes:
                plan = write_chunk(cur, outcomes, planner, now)
                image_of = {source: image_id for source, image_id, _ in plan.sources}
            first = next_id(cur, "downloads")
            insert_rows(
                cur,
                "INSERT INTO downloads (id, job_id, provider, query, label, rank, url, status, reason, detail, image_id, "
                "bytes, attempts, seconds, finished_at)",
                [[first + n, r.job_id, r.hit.provider, r.hit.query, r.label, r.hit.rank, r.hit.url, r.status, r.reason,
                  r.detail, image_of.get(r.hit.url, r.image_id), r.nbytes, r.attempts, r.seconds, now]
                 for n, r in enumerate(records)],
            )

    def gather_progress(self, job_id: int) -> list[QueryProgress]:
        rows = self.query(
            """
            SELECT q.position, q.query, q.label, q.wanted, q.found, q.error, count(d.id),
                   count(d.id) FILTER (WHERE d.status = 'ok'), count(d.id) FILTER (WHERE d.status = 'failed'),
                   count(d.id) FILTER (WHERE d.status = 'refused')
            FROM gather_queries q
            LEFT JOIN downloads d ON d.job_id = q.job_id AND d.query = q.query AND d.label = q.label
            WHERE q.job_id = ? GROUP BY ALL ORDER BY q.position
            """, [job_id])
        return [QueryProgress(*r) for r in rows]

    def gather_failures(self, job_id: int):
        """Every hit of the job that gave no usable image, with why."""
        return self.query_df(
            "SELECT query, label, rank, url, status, reason, detail, attempts FROM downloads "
            "WHERE job_id = ? AND status <> 'ok' ORDER BY reason, query, rank", [job_id])

    def licence_summary(self):
        """Usable downloaded images per label and licence (unknown where the provider gives none)."""
        return self.query_df(
            "SELECT * FROM (SELECT coalesce(i.label, '(unlabelled)') AS label, coalesce(s.license, 'unknown') AS licence, "
            "count(DISTINCT i.id) AS images FROM sources s JOIN images i ON i.id = s.image_id "
            "WHERE s.url IS NOT NULL AND i.status = 'ok' GROUP BY ALL) ORDER BY lower(label), images DESC, licence")

    def download_counts(self) -> dict:
        """`report`'s downloads: each URL counted once, by its latest outcome."""
        latest = f"(SELECT status, reason FROM downloads {LATEST_PER_URL})"
        counts = dict(self.query(f"SELECT status, count(*) FROM {latest} GROUP BY status"))
        by_reason = dict(self.query(
            f"SELECT reason, count(*) FROM {latest} WHERE status <> 'ok' GROUP BY reason ORDER BY reason"))
        return {"ok": counts.get("ok", 0), "failed": counts.get("failed", 0), "refused": counts.get("refused", 0),
                "by_reason": by_reason}
