"""Bias-audit queries: the counted frame `curation.clean.audit` works on (tag coverage too), an image's tags.

The audited images are the usable (status 'ok'), labelled ones. The truth is an image's current
label, so a label corrected after a run counts as corrected. An image stored once but found at
several sources is described by one of them: a web source (with a provider) before a local file,
then the earliest.
"""

from __future__ import annotations

import pandas as pd

from .edits import EditError

#: Columns of the audit frame besides the attribute columns; an attribute may not take one of these names.
AUDIT_BASE_COLUMNS = ("label", "predicted", "provider", "domain", "query", "n")

#: The host of a URL (after any user:password@), lower-cased; NULL for a path or anything else.
DOMAIN_SQL = "nullif(lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)', 1)), '')"

AUDITED = "i.status = 'ok' AND i.label IS NOT NULL"


def quoted(name: str) -> str:
    """`name` as a SQL identifier (attribute names are typed by users)."""
    return '"' + name.replace('"', '""') + '"'


class AuditQueries:
    def audit_frame(self, run_id: int | None) -> pd.DataFrame:
        """The usable labelled images counted per distinct row of: label, predicted (the run's
        validation-split prediction, None where the image was not validated or no run is given),
        provider, domain (the source URL's host), query, one column per defined attribute (the tag, or
        None), and `n`, the images alike in all of them.

        Every audit figure is a count over these columns, so a million images arrive as the few
        thousand rows they differ in, not a row each (issue 15: no page reads all rows into pandas)."""
        names = self.attribute_names()
        clash = sorted(set(names) & set(AUDIT_BASE_COLUMNS))
        if clash:
            raise EditError(f"An attribute may not be called {', '.join(clash)}: rename it to audit it.")
        # one join per attribute on image_attributes' key (image_id, name): cheaper than pivoting every tag
        columns = "".join(f", t{n}.value AS {quoted(name)}" for n, name in enumerate(names))
        tags = "".join(f" LEFT JOIN image_attributes t{n} ON t{n}.image_id = i.id AND t{n}.name = ?"
                       for n in range(len(names)))
        frame = self.query_df(
            f"""
            WITH chosen AS (  -- arg_min over a never-NULL, unique key: DISTINCT ON's first row, without its sort
                SELECT image_id, arg_min({{'provider': provider, 'query': query, 'url': url}},
                                         (provider IS NULL, added_at, source)) AS s
                FROM sources
                -- whichever source is chosen for an image found only in local files, all three are NULL
                WHERE image_id IN (SELECT image_id FROM sources
                                   WHERE provider IS NOT NULL OR query IS NOT NULL OR url IS NOT NULL)
                GROUP BY image_id
            ),
            source AS (SELECT image_id, provider, query, {DOMAIN_SQL} AS domain
                       FROM (SELECT image_id, unnest(s) FROM chosen))
            SELECT i.label, p.predicted, s.provider, s.domain, s.query{columns}, count(*) AS n
            FROM images i
            LEFT JOIN source s ON s.image_id = i.id
            LEFT JOIN predictions p ON p.image_id = i.id AND p.run_id = ? AND p.split = 'val'{tags}
            WHERE {AUDITED} GROUP BY ALL ORDER BY ALL
            """, [run_id, *names])
        text = [c for c in frame.columns if c != "n"]
        frame[text] = frame[text].astype(object).where(frame[text].notna(), None)
        return frame

    def image_tags(self, image_id: int) -> dict[str, str]:
        """The attribute values set on one image, by attribute name."""
        return dict(self.query(
            "SELECT name, value FROM image_attributes WHERE image_id = ? AND value IS NOT NULL ORDER BY name",
            [int(image_id)]))
