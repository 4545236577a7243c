"""`curation ingest DIR FEEDBACK --feedback`: what production logged comes back into the project.

Each logged image is ingested unlabelled (verified, deduplicated like any file) with a source
whose provider is `production`, whose query is the model's guess and whose title says what the
model answered; the answers and the traffic counts go into `production_feedback` and
`production_traffic`. Review's "From production" filter lists them; once labelled they are in
the next dataset version like any image.
"""

from __future__ import annotations

from pathlib import Path

from ..ingest import IngestSummary, ingest
from ..store.deploy import PRODUCTION
from .feedback import guess_sentence, read_feedback


def feedback_provenance(row) -> dict:
    guess = None if row["predicted"] is None or row["predicted"] != row["predicted"] else str(row["predicted"])
    return {"provider": PRODUCTION, "query": guess, "title": guess_sentence(row)}


def ingest_feedback_folder(store, folder: Path, progress=None, cancelled=None,
                           workers: int | None = None) -> tuple[IngestSummary, int]:
    """Ingest one feedback folder's images; the ingest summary and how many entries were new."""
    rows, hours = read_feedback(Path(folder))
    known = store.known_feedback()
    new = rows[~rows["sha256"].isin(known)]
    summary = ingest(store, list(new["path"]), progress=progress, cancelled=cancelled, workers=workers,
                     provenance={path: feedback_provenance(row) for path, (_, row) in zip(new["path"], new.iterrows())})
    store.record_feedback([{k: (None if v != v else v) for k, v in row.items()} for row in
                           new.drop(columns=["path", "file", "top", "why", "variant"]).to_dict("records")], hours)
    return summary, len(new)


def ingest_feedback(store, folders, progress=None, cancelled=None, workers: int | None = None) -> tuple[str, bool]:
    """The ingest job with `feedback` set: every folder in turn; its message and whether it was cancelled."""
    lines, stopped = [], False
    for folder in folders:
        summary, new = ingest_feedback_folder(store, Path(folder), progress, cancelled, workers)
        lines.append(f"{new} new logged inputs from {folder} ({summary.line()})")
        if stopped := summary.cancelled:
            break
    return "; ".join(lines) + "; label them on Review (filter: From production)", stopped
