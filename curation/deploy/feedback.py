"""What production sends back: every out-of-domain or low-confidence input, and traffic counts.

The service writes, under its feedback folder:
- `images/ab/<sha256>.<ext>`: the input's bytes, content-addressed (the same image twice is stored once);
- `log/<time>-<sha256 prefix>.parquet`: one row per logged request (FEEDBACK_COLUMNS), one small
  file each so that a crash never leaves half a table and the reader takes the folder as a whole;
- `traffic.json`: requests, out-of-domain answers and low-confidence answers per hour.

`read_feedback` is the other end, used by `curation ingest DIR FEEDBACK --feedback`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from ..verify import EXTENSIONS

FEEDBACK_COLUMNS = ["sha256", "file", "logged_at", "bundle", "run_id", "variant", "predicted", "confidence", "ood",
                    "ood_score", "why", "top"]


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as out:
        out.write(data)
    os.replace(out.name, path)


def extension(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return EXTENSIONS.get(image.format, "bin")
    except Exception:
        return "bin"


class FeedbackLog:
    """The service's side; thread-safe."""

    def __init__(self, folder: Path, bundle: str, run_id: int | None, variant: str):
        self.folder = Path(folder)
        self.bundle, self.run_id, self.variant = bundle, run_id, variant
        self.lock = threading.Lock()
        traffic = self.folder / "traffic.json"
        self.traffic = json.loads(traffic.read_text()) if traffic.is_file() else {}

    def record(self, data: bytes, answer: dict, logged: str | None) -> None:
        """Count the request; with `logged` (why it needs a person) keep the image and the answer."""
        hour = now().strftime("%Y-%m-%dT%H:00:00")
        with self.lock:
            counts = self.traffic.setdefault(self.bundle, {"run_id": self.run_id, "hours": {}})["hours"].setdefault(
                hour, {"requests": 0, "ood": 0, "low_confidence": 0})
            counts["requests"] += 1
            counts["ood"] += bool(answer.get("ood"))
            counts["low_confidence"] += logged == "low_confidence"
            write_atomically(self.folder / "traffic.json", json.dumps(self.traffic, indent=1).encode())
        if logged:
            self.keep(data, answer, logged)

    def keep(self, data: bytes, answer: dict, why: str) -> None:
        sha = hashlib.sha256(data).hexdigest()
        relative = f"images/{sha[:2]}/{sha}.{extension(data)}"
        if not (self.folder / relative).is_file():
            write_atomically(self.folder / relative, data)
        stamp = now()
        row = {"sha256": sha, "file": relative, "logged_at": stamp, "bundle": self.bundle, "run_id": self.run_id,
               "variant": self.variant, "predicted": answer.get("label"), "confidence": answer.get("confidence"),
               "ood": bool(answer.get("ood")), "ood_score": answer.get("ood_score"), "why": why,
               "top": json.dumps(answer.get("top", []))}
        buf = io.BytesIO()
        pd.DataFrame([row], columns=FEEDBACK_COLUMNS).to_parquet(buf, index=False)
        write_atomically(self.folder / "log" / f"{stamp:%Y%m%dT%H%M%S%f}-{sha[:12]}.parquet", buf.getvalue())


def read_feedback(folder: Path) -> tuple[pd.DataFrame, list[dict]]:
    """The logged rows (latest per image) with each image's absolute path, and the traffic per hour."""
    folder = Path(folder)
    if not (folder / "log").is_dir() and not (folder / "traffic.json").is_file():
        raise FileNotFoundError(f"{folder} is not a feedback folder: it has neither log/ nor traffic.json "
                                "(`curation deploy` writes one).")
    parts = sorted((folder / "log").glob("*.parquet")) if (folder / "log").is_dir() else []
    rows = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else \
        pd.DataFrame(columns=FEEDBACK_COLUMNS)
    rows = rows.sort_values("logged_at").drop_duplicates("sha256", keep="last").reset_index(drop=True)
    rows["path"] = [str((folder / f).resolve()) for f in rows["file"]]
    traffic_file = folder / "traffic.json"
    traffic = json.loads(traffic_file.read_text()) if traffic_file.is_file() else {}
    hours = [{"bundle": bundle, "run_id": entry.get("run_id"), "hour": datetime.fromisoformat(hour), **counts}
             for bundle, entry in traffic.items() for hour, counts in entry["hours"].items()]
    return rows, hours


def guess_sentence(row) -> str:
    """What the model said, for the image's source record (Review's Open shows it)."""
    if row["predicted"] is None or pd.isna(row["predicted"]):
        said = "found nothing it knows"
    else:
        said = f"guessed {row['predicted']} ({row['confidence']:.0%})"
    flag = "out of domain" if row["ood"] else "low confidence"
    return f"Production (run #{row['run_id']}): the model {said}; {flag}."
