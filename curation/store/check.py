"""What `curation check` reads and writes: the files rows point to, jobs left running, the
database's own health, the last check's findings, and originals recorded as failed (or restored)
through events so that undo brings them back."""

from __future__ import annotations

import json

import duckdb

from .db import utcnow
from .edits import Events, REVERTERS, clean_name
from .schema import SCHEMA_VERSION, current_version

#: Reasons `check --repair` gives an image whose original is gone or changed.
FILE_REASONS = ("missing_original", "altered_original")
LAST_CHECK_KEY = "last_check"


class CheckQueries:
    def originals_to_check(self) -> list[tuple[int, str, str, str, str | None]]:
        """(id, sha256, ext, status, reason) of every image that has an original in the project: the
        usable ones and those a check recorded as failed for their file."""
        return self.query(
            "SELECT id, sha256, ext, status, reason FROM images "
            "WHERE ext IS NOT NULL AND (status = 'ok' OR reason IN (SELECT unnest(?))) ORDER BY id",
            [list(FILE_REASONS)])

    def known_hashes(self) -> set[str]:
        return {row[0] for row in self.query("SELECT sha256 FROM images")}

    def face_chip_rows(self) -> list[tuple]:
        """(face id, image id, sha256, ext, chip path, chip_landmarks) of every detected face."""
        return self.query(
            "SELECT f.id, f.image_id, i.sha256, i.ext, f.chip, f.chip_landmarks FROM faces f "
            "JOIN images i ON i.id = f.image_id ORDER BY f.id")

    def run_file_rows(self) -> list[tuple[str, int | str, str]]:
        """(what, id, path relative to the project) of the files training runs and dataset versions name."""
        return self.query(
            "SELECT 'dataset version', id, path FROM dataset_versions "
            "UNION ALL SELECT 'run model', CAST(id AS VARCHAR), model_path FROM runs WHERE model_path IS NOT NULL "
            "UNION ALL SELECT 'run TorchScript', CAST(id AS VARCHAR), torchscript_path FROM runs "
            "WHERE torchscript_path IS NOT NULL ORDER BY 1, 2")

    def active_job_rows(self) -> list[tuple[int, str, int | None]]:
        return self.query("SELECT id, kind, pid FROM jobs WHERE status IN ('running', 'cancelling') ORDER BY id")

    def fail_jobs_left_running(self, job_ids: list[int]) -> None:
        with self.transaction() as cur:
            cur.execute(
                "UPDATE jobs SET status = 'failed', error = 'Interrupted: the process running it stopped.', "
                "finished_at = ? WHERE id IN (SELECT unnest(?)) AND status IN ('running', 'cancelling')",
                [utcnow(), [int(i) for i in job_ids]])

    def database_health(self) -> dict:
        """The schema version against this code's, and whether a checkpoint succeeds."""
        cur = self.cursor()
        try:
            version = current_version(cur)
            try:
                cur.execute("CHECKPOINT")
                checkpoint = None
            except duckdb.Error as exc:
                checkpoint = str(exc).splitlines()[0]
        finally:
            cur.close()
        return {"schema_version": version, "expected_schema_version": SCHEMA_VERSION, "checkpoint_error": checkpoint}

    def mark_original_failed(self, problems: list[tuple[int, str, str]], actor: str) -> int:
        """Record images as failed for their file ((id, reason, detail) each), an event each, in one batch."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "check")
        with self.transaction() as cur:
            events = Events(cur, actor, utcnow())
            changed = 0
            for image_id, reason, detail in problems:
                row = cur.execute("SELECT status, reason, detail FROM images WHERE id = ?", [image_id]).fetchall()
                if not row or row[0][0] != "ok":
                    continue
                cur.execute("UPDATE images SET status = 'failed', reason = ?, detail = ? WHERE id = ?",
                            [reason, detail, image_id])
                events.add("file_check", image_id, {"status": "ok", "reason": None, "detail": None},
                           {"status": "failed", "reason": reason, "detail": detail})
                changed += 1
        return changed

    def restore_returned_originals(self, image_ids: list[int], actor: str) -> int:
        """Undo the check events of images whose original is whole again; how many came back."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "check")
        with self.transaction() as cur:
            rows = cur.execute(
                "SELECT e.id, e.action, e.image_id, e.before, e.after FROM events e "
                "WHERE e.action = 'file_check' AND e.image_id IN (SELECT unnest(?)) "
                "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id) ORDER BY e.id DESC",
                [[int(i) for i in image_ids]]).fetchall()
            events = Events(cur, actor, utcnow())
            return sum(REVERTERS[action](cur, events, event_id, image_id, json.loads(before), json.loads(after))
                       for event_id, action, image_id, before, after in rows)

    def record_check(self, findings: dict) -> None:
        """Keep the last check's report (counts and lists) for Home's banner and for a client of the
        server that ran it (not on a project opened read-only)."""
        if self.read_only:
            return
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [LAST_CHECK_KEY, json.dumps(findings)])

    def last_check(self) -> dict | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", [LAST_CHECK_KEY])
        return json.loads(rows[0][0]) if rows else None

