"""Figures for `report --json`, the home page, and `export`."""

from __future__ import annotations

EXPORT_IMAGE_COLUMNS = ["source", "sha256", "label", "status", "reason", "width", "height", "provider", "url", "license"]


class ReportQueries:
    def report(self) -> dict:
        q = self.query
        ok, failed_files = q(
            "SELECT (SELECT count(*) FROM images WHERE status = 'ok'), "
            "(SELECT count(*) FROM sources s JOIN images i ON i.id = s.image_id WHERE i.status = 'failed')"
        )[0]
        exact, near = q(
            "SELECT (SELECT count(*) FROM sources s JOIN images i ON i.id = s.image_id WHERE i.status = 'ok') "
            "- (SELECT count(*) FROM images WHERE status = 'ok'), "
            "(SELECT count(*) FROM images WHERE near_group IS NOT NULL AND near_group <> id)"
        )[0]
        downloads = dict(q(
            "SELECT i.status, count(*) FROM sources s JOIN images i ON i.id = s.image_id "
            "WHERE s.url IS NOT NULL GROUP BY i.status"))
        return {
            "images": {"total": ok + failed_files, "ok": ok, "failed": failed_files},
            "failed_by_reason": dict(q(
                "SELECT i.reason, count(*) FROM sources s JOIN images i ON i.id = s.image_id "
                "WHERE i.status = 'failed' GROUP BY i.reason ORDER BY i.reason")),
            "duplicates": {"exact": exact, "near": near},
            "labels": self.label_counts(),
            "unlabelled": q("SELECT count(*) FROM images WHERE status = 'ok' AND label IS NULL")[0][0],
            "flags": dict(q("SELECT kind, count(*) FROM flags WHERE active GROUP BY kind ORDER BY kind")),
            "faces": 0,
            "embeddings": {},
            "downloads": {
                "ok": downloads.get("ok", 0),
                "failed": downloads.get("failed", 0),
                "refused": 0,
                "by_reason": dict(q(
                    "SELECT i.reason, count(*) FROM sources s JOIN images i ON i.id = s.image_id "
                    "WHERE s.url IS NOT NULL AND i.status = 'failed' GROUP BY i.reason")),
            },
            "suggestions": {"remove": 0, "relabel": 0, "merge": 0},
            "runs": [],
            "events": q("SELECT count(*) FROM events")[0][0],
        }

    def export_images(self):
        return self.query_df(
            "SELECT s.source, CASE WHEN i.sha256 LIKE 'unread:%' THEN NULL ELSE i.sha256 END AS sha256, i.label, i.status, i.reason, i.width, i.height, s.provider, s.url, s.license "
            "FROM sources s JOIN images i ON i.id = s.image_id ORDER BY s.source")
