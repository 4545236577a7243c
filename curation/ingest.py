"""Files in: expand paths, verify each file, store originals and thumbnails, record them.

Workers (processes) do the pure work per file: read, hash, verify, write the content-addressed
original and thumbnail. The calling process decides what each outcome means against what the
project already holds (exact duplicate, near duplicate, label conflict) and records a chunk of
outcomes in one transaction. Files are handled in sorted order and a chunk is all or nothing,
so a killed ingest followed by the same command leaves exactly what one uninterrupted run leaves.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from .hamming_index import HammingIndex
from .names import repair_name
from .project import Project, ProjectError, disk_problem, disk_sentence, disk_state
from .verify import Failure, verify_bytes

if TYPE_CHECKING:  # the worker process imports this module: it needs none of the job machinery
    from .jobs.runner import Progress

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff",
                  ".pgm", ".ppm", ".pbm", ".pnm", ".svg", ".ico", ".heic", ".avif"}
THUMB_SIDE = 224
NEAR_DISTANCE = 6
CHUNK = 64
LARGEST_CHUNK = 256
MAX_FILE_BYTES = 200 * 1024 * 1024



@dataclass(frozen=True)
class FileTask:
    source: str
    label: str | None
    provenance: dict | None = None


@dataclass
class FileOutcome:
    source: str
    label: str | None
    sha256: str
    status: str
    reason: str | None = None
    detail: str | None = None
    format: str | None = None
    ext: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int | None = None
    normalised: str | None = None
    phash: int | None = None
    nbytes: int = 0
    provenance: dict | None = None


@dataclass
class IngestSummary:
    files: int = 0
    already_known: int = 0
    not_images: int = 0
    new_images: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    label_conflicts: int = 0
    failed: int = 0
    failed_by_reason: Counter = field(default_factory=Counter)
    cancelled: bool = False

    def line(self) -> str:
        parts = [f"{self.files} files", f"{self.new_images} new images", f"{self.failed} failed",
                 f"{self.exact_duplicates} exact duplicates", f"{self.near_duplicates} near duplicates",
                 f"{self.label_conflicts} label conflicts", f"{self.already_known} already in the project"]
        if self.not_images:
            parts.append(f"{self.not_images} non-image files skipped")
        return ", ".join(parts) + (" (cancelled)" if self.cancelled else "")


def expand(paths: Iterable[str | os.PathLike], labels_from_folders: bool) -> tuple[list[FileTask], int]:
    """Every image-named file under `paths`, sorted, with its folder label; and the count of others.

    A file reached twice (a folder and a file inside it) is one task, the first, since a source is
    recorded once.
    """
    tasks: list[FileTask] = []
    seen: set[Path] = set()
    others = 0
    for given in paths:
        root = resolved(given)
        if not root.exists():
            raise FileNotFoundError(f"{given} does not exist.")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path in seen:
                continue
            seen.add(path)
            if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
                others += 1
                continue
            label = folder_label(path, root) if labels_from_folders else None
            tasks.append(FileTask(str(path), label))
    return tasks, others


class IngestPathError(ValueError):
    """A path given to ingest that cannot be followed, with a sentence that says why."""


def resolved(given: str | os.PathLike) -> Path:
    """The absolute path `given` names; IngestPathError for a symbolic link that loops."""
    try:
        return Path(given).expanduser().resolve()
    except (RuntimeError, OSError):
        raise IngestPathError(f"{given} is a symbolic link that loops back on itself (or goes through too many "
                              "links): give the real folder or file.") from None


def folder_label(path: Path, root: Path) -> str | None:
    """The name of the folder a file is filed under, made a usable label (`names.repair_name`)."""
    if path == root:
        folder = path.parent.name
    else:
        relative = path.relative_to(root)
        folder = relative.parts[-2] if len(relative.parts) > 1 else None
    return repair_name(folder) if folder else None


def phash64(img) -> int:
    """The 64-bit DCT perceptual hash, of a 64 px grey box-reduction (7x cheaper than from 224 px).

    `imagehash.phash(small)`'s steps and arithmetic, bit for bit (tests/test_ingest.py compares
    them), without its object overhead: its median of the 64 coefficients is the mean of the two
    middle ones."""
    import scipy.fftpack

    small = img.convert("L").resize((64, 64), Image.Resampling.BOX).resize((32, 32), Image.Resampling.LANCZOS)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(small), axis=0), axis=1)
    low = dct[:8, :8].ravel()
    bits = low > np.partition(low, (31, 32))[31:33].mean()
    return int(np.packbits(bits).view(">u8")[0])


def thumbnail(img):
    """Shrink `img` in place (it is this worker's own decoded copy) to the thumbnail size."""
    img.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    return img


def jpeg_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=82)
    return buf.getvalue()


def read_source(path: str) -> bytes | Failure:
    try:
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                return Failure("too_large", f"{size / 2**20:.0f} MB, over the {MAX_FILE_BYTES / 2**20:.0f} MB limit.")
            return fh.readall()
    except OSError as exc:
        return Failure("unreadable_file", f"The file could not be read ({exc.strerror or exc}).")


def write_new(path: str, data: bytes, tmp_dir: str) -> None:
    """Write a content-addressed file unless it is there (same name, same bytes) through a temporary
    file renamed into place, so that a reader or a kill never sees half of it.

    `project.write_atomically`'s steps with half its system calls, as it runs twice per image:
    folders are made only when the create or the rename finds one missing, and the temporary name
    is the file's own with the thread's id (one writer per thread in a folder per process: unique).
    """
    if os.path.exists(path):
        return
    tmp = f"{tmp_dir}/{os.path.basename(path)}.{threading.get_ident()}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:
        os.makedirs(tmp_dir, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            unwritten = memoryview(data)
            while unwritten:
                unwritten = unwritten[os.write(fd, unwritten):]
        finally:
            os.close(fd)
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def process_file(task: FileTask, root: str) -> FileOutcome:
    """Pure per-file work, run in a worker: never raises for a bad file."""
    project = Project(Path(root))
    data = read_source(task.source)
    if isinstance(data, Failure):
        return FileOutcome(task.source, task.label, "", "failed", data.reason, data.detail)
    return outcome_for_bytes(task, data, project)


def outcome_for_bytes(task: FileTask, data: bytes, project: Project) -> FileOutcome:
    sha = hashlib.sha256(data).hexdigest()
    result = verify_bytes(data, side=THUMB_SIDE)
    if isinstance(result, Failure):
        return FileOutcome(task.source, task.label, sha, "failed", result.reason, result.detail, nbytes=len(data),
                           provenance=task.provenance)
    thumb = thumbnail(result.image)
    tmp_dir = f"{project.tmp_dir}/w{os.getpid()}"  # one per worker: no lock on a shared folder
    write_new(str(project.original_path(sha, result.ext)), data, tmp_dir)
    write_new(str(project.thumb_path(sha)), jpeg_bytes(thumb), tmp_dir)
    return FileOutcome(
        task.source, task.label, sha, "ok", format=result.format, ext=result.ext, width=result.width,
        height=result.height, mode=result.mode, frames=result.frames,
        normalised="; ".join(result.normalised) or None, phash=phash64(thumb), nbytes=len(data),
        provenance=task.provenance,
    )


class NearDuplicateIndex:
    """Perceptual hashes of the project's usable images, searched by Hamming distance.

    Built once per ingest and grown as images arrive. The search is multi-index hashing
    (`HammingIndex`), so it does not scan the project: a lookup costs about the same at ten
    thousand images as at a million. Image ids and near-duplicate groups sit beside the hashes,
    at the same positions.
    """

    def __init__(self, ids: np.ndarray, hashes: np.ndarray, groups: np.ndarray):
        self.hashes = HammingIndex(hashes, radius=NEAR_DISTANCE)
        self.size = len(ids)
        capacity = max(1024, 2 * self.size)
        self.ids = np.zeros(capacity, dtype=np.int64)
        self.groups = np.full(capacity, -1, dtype=np.int64)
        self.ids[:self.size], self.groups[:self.size] = ids, groups

    def nearest(self, phash: int) -> tuple[int, int, int] | None:
        """(index position, image id, distance) of the closest image within NEAR_DISTANCE."""
        match = self.hashes.nearest(phash)
        if match is None:
            return None
        pos, distance = match
        return pos, int(self.ids[pos]), distance

    def add(self, image_id: int, phash: int, group: int | None) -> None:
        if self.size == len(self.ids):
            self._grow()
        self.hashes.add(phash)
        self.ids[self.size] = image_id
        self.groups[self.size] = group if group is not None else -1
        self.size += 1

    def _grow(self) -> None:
        extra = len(self.ids)
        self.ids = np.concatenate([self.ids, np.zeros(extra, dtype=np.int64)])
        self.groups = np.concatenate([self.groups, np.full(extra, -1, dtype=np.int64)])


@dataclass(frozen=True)
class KnownImage:
    id: int
    status: str
    label: str | None


@dataclass
class ChunkPlan:
    """What one chunk of outcomes changes: rows to insert and updates, written in one transaction."""

    images: list[FileOutcome] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    near_groups: dict[int, int] = field(default_factory=dict)
    sources: list[tuple[str, int, str | None]] = field(default_factory=list)
    flags: list[tuple[int, str, str]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    label_updates: dict[int, str] = field(default_factory=dict)


def plan_chunk(batch: list[FileOutcome], known: dict[str, KnownImage], next_id: int,
               index: NearDuplicateIndex, summary: IngestSummary) -> ChunkPlan:
    """Decide what each outcome means given the images the project (and this chunk) already holds."""
    plan = ChunkPlan()
    for out in batch:
        if out.status == "failed":
            summary.failed += 1
            summary.failed_by_reason[out.reason] += 1
        image = known.get(out.sha256) if out.sha256 else None
        if image is None:
            image = KnownImage(next_id, out.status, out.label)
            next_id += 1
            plan.images.append(out)
            plan.image_ids.append(image.id)
            if out.sha256:
                known[out.sha256] = image
            if out.status == "ok":
                summary.new_images += 1
                plan_near_duplicate(plan, image.id, out.phash, index, summary)
        elif image.status == "ok":
            summary.exact_duplicates += 1
            plan_label_conflict(plan, image, out, summary)
        plan.sources.append((out.source, image.id, out.label))
        if out.label and out.status == "ok":
            plan.labels.add(out.label)
    return plan


def plan_near_duplicate(plan: ChunkPlan, image_id: int, phash: int, index: NearDuplicateIndex,
                        summary: IngestSummary) -> None:
    match = index.nearest(phash)
    group = None
    if match:
        pos, other_id, distance = match
        group = int(index.groups[pos]) if index.groups[pos] >= 0 else other_id
        index.groups[pos] = group
        plan.near_groups[other_id] = group
        plan.near_groups[image_id] = group
        plan.flags.append((image_id, "duplicate", f"Near duplicate of image #{other_id} (perceptual-hash distance {distance})."))
        summary.near_duplicates += 1
    index.add(image_id, phash, group)


def plan_label_conflict(plan: ChunkPlan, image: KnownImage, out: FileOutcome, summary: IngestSummary) -> None:
    current = plan.label_updates.get(image.id, image.label)
    if not out.label or out.label == current:
        return
    if current is None:
        plan.label_updates[image.id] = out.label
        return
    plan.flags.append((image.id, "label_conflict", f"Filed under '{current}' and under '{out.label}' ({out.source})."))
    summary.label_conflicts += 1


def map_outcomes(tasks: list[FileTask], project: Project, workers: int) -> Iterator[FileOutcome]:
    if workers <= 1 or len(tasks) < 4 * workers:
        return map(partial(process_file, root=str(project.root)), tasks)
    from .ingest_worker import outcomes_from_worker

    return outcomes_from_worker(tasks, str(project.root), workers)


def chunked(items: Iterator[FileOutcome], size: int, largest: int | None = None) -> Iterator[list[FileOutcome]]:
    """Chunks of `size` items, each next one twice as large up to `largest`: the first chunk is
    recorded (and shown) soon, later ones cost fewer database statements per image (a chunk's
    transaction has a fixed cost of tens of milliseconds whatever its size)."""
    batch: list[FileOutcome] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
            size = min(2 * size, largest or size)
    if batch:
        yield batch


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def ingest(
    store,
    paths: Iterable[str | os.PathLike],
    labels_from_folders: bool = False,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    workers: int | None = None,
    provenance: dict[str, dict] | None = None,
) -> IngestSummary:
    """Ingest every image under `paths` into the store's project; safe to repeat or interrupt.

    `provenance` (source path -> PROVENANCE_COLUMNS values) records where files came from, as
    gather does for downloads (production feedback uses it)."""
    tasks, others = expand(paths, labels_from_folders)
    if provenance:
        tasks = [replace(t, provenance=provenance.get(t.source)) for t in tasks]
    summary = IngestSummary(files=len(tasks) + others, not_images=others)
    known = store.known_sources([t.source for t in tasks])
    todo = [t for t in tasks if t.source not in known]
    summary.already_known = len(tasks) - len(todo)
    clear_partial_writes(store.project)
    done = summary.already_known
    total = len(tasks)
    if progress:
        progress(done, total)
    outcomes = None
    try:
        outcomes = map_outcomes(todo, store.project, workers or default_workers())
        index = NearDuplicateIndex(*store.phash_index())  # loaded while the worker process starts
        for batch in chunked(outcomes, CHUNK, LARGEST_CHUNK):
            store.record_ingest(batch, partial(plan_chunk, batch, index=index, summary=summary))
            done += len(batch)
            if progress:
                progress(done, total)
            if cancelled and cancelled():
                summary.cancelled = True
                break
    except (OSError, RuntimeError, ProjectError) as exc:
        raise disk_refusal(store.project, exc, done, total) from None
    finally:
        stop_worker(outcomes)
    return summary


def run_ingest(ctx) -> tuple[str, bool]:
    """The "ingest" job (curation.jobs.kinds)."""
    params = ctx.params
    if params.feedback:
        from .deploy.intake import ingest_feedback

        return ingest_feedback(ctx.store, params.paths, ctx.progress, ctx.cancelled, params.workers)
    summary = ingest(ctx.store, params.paths, labels_from_folders=params.labels_from_folders, progress=ctx.progress,
                     cancelled=ctx.cancelled, workers=params.workers)
    return summary.line(), summary.cancelled


def disk_refusal(project: Project, exc: Exception, done: int, total: int) -> Exception:
    """A full or read-only disk named as such (with how far the ingest got); other errors as they are."""
    problem = getattr(exc, "problem", None) or disk_problem(exc)
    if problem is None and isinstance(exc, RuntimeError):
        problem = disk_state(project.root)
    if problem is None:
        return exc
    return ProjectError(disk_sentence(project.root, problem, f"the ingest stopped after {done} of {total} files, "
                                      "each of which is kept; ingest again afterwards to add the rest"))


def stop_worker(outcomes) -> None:
    """Stop the worker process now, whether the ingest ended, was cancelled or failed mid-chunk."""
    close = getattr(outcomes, "close", None)
    if close:
        close()


def clear_partial_writes(project: Project) -> None:
    """Half-written files left by a killed run; every finished file was renamed out of here."""
    shutil.rmtree(project.tmp_dir, ignore_errors=True)
