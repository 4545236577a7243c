"""Review queries: the filtered, paged grid, an image's detail and its history.

Paging happens in SQL (filter, order by id, limit/offset), and per-image extras (flags, source
count) are joined for the page's ids only, so a page costs the same on 1,000 or 1,000,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .queues import QUEUES, queue_clause

STATUSES = ("ok", "failed")


@dataclass(frozen=True)
class ReviewFilter:
    labels: tuple[str, ...] = ()
    unlabelled: bool = False
    status: str | None = "ok"
    flag_kind: str | None = None
    source: str = ""
    duplicates_only: bool = False
    group: int | None = None
    #: A work queue (`queues.QUEUES`): only its images, in its order.
    queue: str | None = None
    production: bool = False

    def order(self) -> str:
        """The sort key images are taken in (ties by id)."""
        return QUEUES[self.queue].order if self.queue else "i.id"

    def where(self) -> tuple[str, list]:
        clauses, params = ["true"], []
        if self.queue:
            clauses.append(queue_clause(self.queue))
        if self.status:
            clauses.append("i.status = ?")
            params.append(self.status)
        label_terms = []
        if self.labels:
            label_terms.append("i.label IN (SELECT unnest(?))")
            params.append(list(self.labels))
        if self.unlabelled:
            label_terms.append("i.label IS NULL")
        if label_terms:
            clauses.append("(" + " OR ".join(label_terms) + ")")
        if self.flag_kind == "any":
            clauses.append("EXISTS (SELECT 1 FROM flags f WHERE f.image_id = i.id AND f.active)")
        elif self.flag_kind == "none":
            clauses.append("NOT EXISTS (SELECT 1 FROM flags f WHERE f.image_id = i.id AND f.active)")
        elif self.flag_kind:
            clauses.append("EXISTS (SELECT 1 FROM flags f WHERE f.image_id = i.id AND f.active AND f.kind = ?)")
            params.append(self.flag_kind)
        if self.source.strip():
            clauses.append("EXISTS (SELECT 1 FROM sources s WHERE s.image_id = i.id AND s.source ILIKE ? ESCAPE '\\')")
            params.append(f"%{like_literal(self.source.strip())}%")
        if self.production:
            clauses.append("EXISTS (SELECT 1 FROM sources s WHERE s.image_id = i.id AND s.provider = 'production')")
        if self.group is not None:
            clauses.append("(i.near_group = ? OR i.id = ?)")
            params += [self.group, self.group]
        elif self.duplicates_only:
            clauses.append(
                "(i.near_group IS NOT NULL OR i.id IN "
                "(SELECT image_id FROM sources GROUP BY image_id HAVING count(*) > 1))"
            )
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class GridItem:
    id: int
    sha256: str
    status: str
    reason: str | None
    label: str | None
    width: int | None
    height: int | None
    near_group: int | None
    sources: int
    flags: tuple[str, ...] = field(default_factory=tuple)


class ReviewQueries:
    def count_images(self, flt: ReviewFilter) -> int:
        where, params = flt.where()
        return self.query(f"SELECT count(*) FROM images i WHERE {where}", params)[0][0]

    def page_images(self, flt: ReviewFilter, page: int, page_size: int) -> list[GridItem]:
        """One page (0-based) of the filtered images in the filter's order (id order unless a queue's)."""
        where, params = flt.where()
        if not flt.queue:
            return self._grid_items(f"WHERE {where} ORDER BY i.id LIMIT ? OFFSET ?",
                                    params + [page_size, page * page_size])
        ids = [r[0] for r in self.query(f"SELECT i.id FROM images i WHERE {where} ORDER BY {flt.order()}, i.id "
                                        "LIMIT ? OFFSET ?", params + [page_size, page * page_size])]
        return self.grid_items(ids)

    def grid_items(self, ids: list[int]) -> list[GridItem]:
        """Grid items for these image ids, in the order given."""
        items = {item.id: item for item in self._grid_items("WHERE i.id IN (SELECT unnest(?))", [list(ids)])}
        return [items[i] for i in ids if i in items]

    def _grid_items(self, selection: str, params: list) -> list[GridItem]:
        """Grid items of the images `selection` picks; per-image extras are read for those only.

        Sources and flags are filtered by the page's id range and list before they are grouped: a
        correlated subquery made DuckDB hash-join the whole tables, about 120 ms a page at 1.2
        million images against 12 ms this way (bench/api.py)."""
        rows = self.query(
            f"""
            WITH page AS MATERIALIZED (
                SELECT i.id, i.sha256, i.status, i.reason, i.label, i.width, i.height, i.near_group
                FROM images i {selection}
            ),
            bounds AS MATERIALIZED (SELECT min(id) AS lo, max(id) AS hi, list(id) AS ids FROM page),
            n AS (SELECT s.image_id, count(*) AS n FROM sources s, bounds b
                  WHERE s.image_id BETWEEN b.lo AND b.hi AND list_contains(b.ids, s.image_id) GROUP BY ALL),
            k AS (SELECT f.image_id, list(DISTINCT f.kind ORDER BY f.kind) AS kinds FROM flags f, bounds b
                  WHERE f.active AND f.image_id BETWEEN b.lo AND b.hi AND list_contains(b.ids, f.image_id)
                  GROUP BY ALL)
            SELECT p.*, coalesce(n.n, 0) AS n_sources, coalesce(k.kinds, []) AS kinds
            FROM page p LEFT JOIN n ON n.image_id = p.id LEFT JOIN k ON k.image_id = p.id ORDER BY p.id
            """,
            params,
        )
        return [GridItem(*r[:8], sources=r[8], flags=tuple(r[9])) for r in rows]

    def missing_image_ids(self, image_ids: list[int]) -> list[int]:
        """Those of `image_ids` that name no image of the project, in the order given."""
        known = {r[0] for r in self.query("SELECT id FROM images WHERE id IN (SELECT unnest(?))", [list(image_ids)])}
        return [i for i in image_ids if i not in known]

    def image(self, image_id: int) -> dict | None:
        cur = self.cursor()
        try:
            df = cur.execute("SELECT * FROM images WHERE id = ?", [image_id]).df()
        finally:
            cur.close()
        return None if df.empty else df.iloc[0].to_dict()

    def image_sources(self, image_id: int):
        """Every path or URL the image came from; for a download, the search hit's provenance."""
        return self.query_df(
            "SELECT source, label_hint AS filed_under, provider, query, rank, url, page_url, title, creator, license, "
            "attribution, listed_width, listed_height, listed_bytes, added_at FROM sources "
            "WHERE image_id = ? ORDER BY added_at, source", [image_id])

    def image_flags(self, image_id: int, active_only: bool = True):
        return self.query_df(
            "SELECT id, kind, note, active, created_by, created_at FROM flags WHERE image_id = ? "
            "AND (active OR NOT ?) ORDER BY id", [image_id, active_only])

    def image_history(self, image_id: int):
        return self.query_df(
            "SELECT id, happened_at, actor, action, before, after, undoes FROM events WHERE image_id = ? ORDER BY id DESC",
            [image_id])

    def label_names(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM labels ORDER BY name")]

    def label_counts(self) -> dict[str, int]:
        rows = self.query(
            "SELECT label, count(*) FROM images WHERE status = 'ok' AND label IS NOT NULL GROUP BY label ORDER BY label")
        return dict(rows)

    def failed_files(self, reason: str | None = None, limit: int | None = None):
        """Failed files (of one reason, when given), by reason and source; the first `limit` of them."""
        return self.query_df(
            "SELECT s.source, i.reason, i.detail, s.label_hint AS filed_under, i.bytes FROM sources s "
            "JOIN images i ON i.id = s.image_id WHERE i.status = 'failed' AND (?::VARCHAR IS NULL OR i.reason = ?) "
            "ORDER BY i.reason, s.source LIMIT ?", [reason, reason, limit])

    def failed_by_reason(self) -> dict[str, int]:
        """Failed files per reason (a file counts once per source it was found at)."""
        return dict(self.query(
            "SELECT i.reason, count(*) FROM sources s JOIN images i ON i.id = s.image_id "
            "WHERE i.status = 'failed' GROUP BY i.reason ORDER BY i.reason"))

    def label_renames(self) -> list[tuple[str, str]]:
        """(old, new) of every label the name rule's migration renamed (`store/renames.py`)."""
        return [(before, after) for before, after in self.query(
            "SELECT before->>'label', after->>'label' FROM events WHERE action = 'rename_label' ORDER BY id")]

    def recent_events(self, limit: int = 20):
        return self.query_df(
            "SELECT id, happened_at, actor, action, image_id, before, after FROM events ORDER BY id DESC LIMIT ?", [limit])

    def neighbour_id(self, flt: ReviewFilter, image_id: int, step: int) -> int | None:
        """The next (step > 0) or previous image id under the filter in its order, for detail
        navigation; defined even when `image_id` has just left the filter (it was labelled, say)."""
        where, params = flt.where()
        op, direction = (">", "ASC") if step > 0 else ("<", "DESC")
        row = self.query(
            f"WITH c AS (SELECT {flt.order()} AS k FROM images i WHERE i.id = ?) "
            f"SELECT i.id FROM images i, c WHERE {where} AND ({flt.order()}, i.id) {op} (c.k, ?) "
            f"ORDER BY {flt.order()} {direction}, i.id {direction} LIMIT 1", [image_id] + params + [image_id])
        return row[0][0] if row else None

    def position_of(self, flt: ReviewFilter, image_id: int) -> int:
        """How many filtered images come before `image_id` in the filter's order (to find its page)."""
        where, params = flt.where()
        return self.query(
            f"WITH c AS (SELECT {flt.order()} AS k FROM images i WHERE i.id = ?) "
            f"SELECT count(*) FROM images i, c WHERE {where} AND ({flt.order()}, i.id) < (c.k, ?)",
            [image_id] + params + [image_id])[0][0]


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern that matches it literally: `%`, `_` and `\\` lose their meaning."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
