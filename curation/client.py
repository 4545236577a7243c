"""A project from Python, the same whether a server holds it or not: `connect("DIR or URL")`.

    from curation.client import connect
    p = connect("demo-project")              # or connect("http://127.0.0.1:8501", token="...")
    p.report()["images"]
    frame = p.images(label="circle")        # a pandas frame, Review's filters as keywords
    ids, vectors = p.embeddings("hog")      # the rows (a frame) and a float32 matrix
    job = p.run("train", arch="linear", model="hog")   # progress on stderr; the ended job

A folder whose server runs (its `.curation/serve.json` names a live process and port) is reached
through that server's API; otherwise the project is opened here, directly, as the command line
always could. The command line itself is built on this, so it behaves the same either way.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .project import project_at
from .serving import live_server

OWNER = "cli"
POLL_SECONDS = 0.5
PAGE = 1000

JobUpdate = Callable[[dict], None]


class ClientError(Exception):
    """A refusal or failure, with the sentence the server (or the library) gave."""


def connect(target: str | os.PathLike, token: str | None = None, actor: str | None = None,
            settle_jobs: bool = True):
    """The project at a folder or a server's URL (`token`, or CURATION_TOKEN, for a URL).

    Opened here, the project's jobs that a stopped process left marked running end as failed
    (nobody else can be running them while this process holds the database), unless `settle_jobs`
    is False: `curation check` reports them instead."""
    text = str(target)
    if text.startswith(("http://", "https://")):
        return ServedProject(text, token or os.environ.get("CURATION_TOKEN", ""), actor)
    root = project_at(text).root
    info = live_server(root)
    if info is not None:
        served = ServedProject(info.url, info.token, actor, root)
        if served.serves(root):
            return served
    return DirectProject(root, actor, settle_jobs)


def job_error(job: dict) -> str:
    """The one sentence that says why a job did not finish."""
    return job.get("error") or job.get("message") or \
        f"The {job['kind']} job ended as {job['status']}."


class ProjectClient:
    """What both kinds of connection offer; subclasses say how each call reaches the project."""

    served: bool

    def run(self, kind: str, progress: JobUpdate | None = None, **params) -> dict:
        """Start a job and follow it to its end (Ctrl+C cancels it and waits for it to stop)."""
        on_update = progress or progress_bar(kind)
        with interrupts_held() as interrupted:
            job = self.start(kind, **params)
        if interrupted:
            self.cancel(job["id"])
        return self.follow(job["id"], on_update)

    def images(self, limit: int | None = None, **filters):
        """The filtered images (Review's filters: status, label, unlabelled, flag, source, duplicates,
        group) as a pandas frame, read a page at a time."""
        import pandas as pd

        frames, page = [], 0
        while True:
            chunk = self.images_page(page, PAGE, **filters)
            frames.append(pd.DataFrame(chunk["items"]))
            if (page + 1) * PAGE >= chunk["total"] or (limit and (page + 1) * PAGE >= limit):
                break
            page += 1
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return frame.head(limit) if limit else frame

    def embeddings(self, model: str):
        """`model`'s vectors: (a frame of source, face, label, box, model; a float32 matrix, same order)."""
        import numpy as np
        import pandas as pd

        with tempfile.TemporaryFile() as file:
            self.export_into(file, "embeddings", "parquet", model=model)
            file.seek(0)
            frame = pd.read_parquet(file)
        matrix = np.stack(frame.pop("vector").to_numpy()).astype(np.float32) if len(frame) else \
            np.zeros((0, 0), np.float32)
        return frame, matrix

    def export(self, what: str, out: Path, fmt: str, run: int | None = None,
               model: str | None = None) -> tuple[int, Path]:
        """Write an export to `out` (a file, or a folder to put `<what>.<fmt>` in); (rows, the file)."""
        out = Path(out)
        if out.is_dir():
            out = out / f"{what}.{fmt}"
        partial = out.with_name(out.name + ".partial")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as file:
                rows = self.export_into(file, what, fmt, run=run, model=model)
            partial.replace(out)
        except BaseException as exc:
            if partial.exists():
                partial.unlink()
            if isinstance(exc, OSError):
                raise ClientError(f"Could not write {out} ({exc.strerror or type(exc).__name__}).") from None
            raise
        return rows, out


class DirectProject(ProjectClient):
    """The project opened in this process (nobody serves it)."""

    served = False

    def __init__(self, root: Path, actor: str | None = None, settle_jobs: bool = True):
        from .store import open_store

        self.store = open_store(root)
        self.actor = actor or OWNER
        if settle_jobs:
            self.store.fail_orphaned_jobs()

    @property
    def root(self) -> Path:
        return self.store.project.root

    def report(self) -> dict:
        return json.loads(json.dumps(self.store.report(), default=str))

    def images_page(self, page: int, page_size: int, **filters) -> dict:
        from .api import jsonable
        from .store import ReviewFilter

        flt = ReviewFilter(**_review_filter(filters))
        return {"total": self.store.count_images(flt), "page": page, "page_size": page_size,
                "items": jsonable(self.store.page_images(flt, page, page_size))}

    def label(self, ids: list[int], label: str) -> int:
        return self.store.set_label(ids, label, self.actor)

    def flag(self, ids: list[int], kind: str, note: str = "") -> int:
        return self.store.add_flag(ids, kind, note, self.actor)

    def clear_flags(self, ids: list[int], kind: str | None = None) -> int:
        return self.store.clear_flags(ids, kind, self.actor)

    def tag(self, ids: list[int], attribute: str, value: str | None) -> int:
        return self.store.tag_images(ids, attribute, value, self.actor)

    def undo(self) -> str:
        return self.store.undo_last(self.actor).line()

    def start(self, kind: str, **params) -> dict:
        from .jobs import start_job

        return self.job(start_job(self.store, kind, params, self.actor))

    def job(self, job_id: int) -> dict:
        from .api import job_view

        return job_view(self.store.job(job_id))

    def cancel(self, job_id: int) -> dict:
        from .jobs import cancel_job

        cancel_job(self.store, job_id, self.actor)
        return self.job(job_id)

    def follow(self, job_id: int, on_update: JobUpdate) -> dict:
        def updates() -> Iterator[dict]:
            while True:
                job = self.job(job_id)
                yield job
                if not job["active"]:
                    return
                time.sleep(POLL_SECONDS)

        return _follow(self, job_id, updates, on_update)

    def export_into(self, file: BinaryIO, what: str, fmt: str, run: int | None = None,
                    model: str | None = None) -> int:
        """Write the export's file into `file`, batch by batch; its number of rows."""
        from .export import stream_export

        self.store.require(self.actor, "export")
        rows, chunks = stream_export(self.store, what, fmt, run, model)
        for chunk in chunks:
            file.write(chunk)
        return rows

    def imagefolder(self, out: Path) -> int:
        from .export import export_imagefolder

        self.store.require(self.actor, "export")
        return export_imagefolder(self.store, Path(out))

    def check(self, repair: bool = False, progress: JobUpdate | None = None) -> dict:
        """Check (and with `repair`, repair) the project here, without a job, so that a read-only
        project can be checked too; the report as JSON (counts and lists)."""
        from .check import check_project

        self.store.require(self.actor, "check")
        show = progress or progress_bar("check")

        def step(done: int, total: int | None, message: str | None = None) -> None:
            show({"done": done, "total": total, "message": message, "active": True})

        report = check_project(self.store, repair=repair, actor=self.actor, progress=step)
        show({"done": report.originals_checked, "total": report.originals_checked, "message": "", "active": False})
        return report.as_json()

    def backup(self, out: Path) -> str:
        from .backup import backup_project

        self.store.require(self.actor, "backup")
        return backup_project(self.store, out).line("Backed up")

    def add_user(self, name: str, role: str, password: str) -> None:
        self.store.add_user(name, role, password, self.actor)

    def set_team(self, on: bool) -> bool:
        self.store.set_team_mode(on, self.actor)
        return self.store.team_mode()

    def team_mode(self) -> bool:
        return self.store.team_mode()

    def create_token(self, user: str, note: str = "") -> str:
        return self.store.create_api_token(user, note, self.actor)


class ServedProject(ProjectClient):
    """The project through a running server's API."""

    served = True

    def __init__(self, url: str, token: str, actor: str | None = None, root: Path | None = None):
        self.headers = {"Authorization": f"Bearer {token}"}
        if actor:
            self.headers["X-Curation-Actor"] = actor
        self.url, self.root = url, root
        self.http = self.connection()

    def connection(self):
        import httpx

        return httpx.Client(base_url=self.url.rstrip("/") + "/api/v1", headers=self.headers, timeout=60,
                            trust_env=False)

    def call(self, method: str, path: str, body: dict | None = None, **query):
        import httpx

        try:
            response = self.http.request(method, path, json=body,
                                         params={k: v for k, v in query.items() if v is not None})
        except httpx.HTTPError as exc:
            raise ClientError(f"The server at {self.url} did not answer ({type(exc).__name__}): is it running?") from None
        if response.status_code >= 400:
            raise ClientError(_sentence(response))
        return response

    def download(self, path: str, into: BinaryIO, **query) -> dict:
        """A GET whose body is streamed into a file, never held whole (an export, an image-folder
        zip); the answer's headers."""
        import httpx

        try:
            with self.http.stream("GET", path, params={k: v for k, v in query.items() if v is not None}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_sentence(response))
                for chunk in response.iter_bytes(1 << 20):
                    into.write(chunk)
        except httpx.HTTPError as exc:
            raise ClientError(f"The server at {self.url} did not answer ({type(exc).__name__}): is it running?") from None
        into.seek(0)
        return dict(response.headers)

    def serves(self, root: Path) -> bool:
        """Whether this server holds the project at `root` (a copied folder carries its original's
        serve.json, which names the original's server)."""
        try:
            return self.call("GET", "/health").json()["project"] == str(root)
        except (ClientError, ValueError, KeyError):
            return False

    def report(self) -> dict:
        return self.call("GET", "/report").json()

    def images_page(self, page: int, page_size: int, **filters) -> dict:
        query = {**_query_filter(filters), "page": page, "page_size": page_size}
        return self.call("GET", "/images", **query).json()

    def label(self, ids: list[int], label: str) -> int:
        return self.call("POST", "/edits/label", {"images": list(ids), "label": label}).json()["changed"]

    def flag(self, ids: list[int], kind: str, note: str = "") -> int:
        return self.call("POST", "/edits/flag", {"images": list(ids), "kind": kind, "note": note}).json()["changed"]

    def clear_flags(self, ids: list[int], kind: str | None = None) -> int:
        return self.call("POST", "/edits/clear-flags", {"images": list(ids), "kind": kind}).json()["changed"]

    def tag(self, ids: list[int], attribute: str, value: str | None) -> int:
        body = {"images": list(ids), "attribute": attribute, "value": value}
        return self.call("POST", "/edits/tag", body).json()["changed"]

    def undo(self) -> str:
        return self.call("POST", "/edits/undo", {}).json()["message"]

    def start(self, kind: str, **params) -> dict:
        return self.call("POST", "/jobs", {"kind": kind, "params": params}).json()

    def job(self, job_id: int) -> dict:
        return self.call("GET", f"/jobs/{job_id}").json()

    def cancel(self, job_id: int) -> dict:
        return self.call("POST", f"/jobs/{job_id}/cancel").json()

    def follow(self, job_id: int, on_update: JobUpdate) -> dict:
        def updates() -> Iterator[dict]:
            with self.http.stream("GET", f"/jobs/{job_id}/events", timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_sentence(response))
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        yield json.loads(line[6:])

        return _follow(self, job_id, updates, on_update)

    def export_into(self, file: BinaryIO, what: str, fmt: str, run: int | None = None,
                    model: str | None = None) -> int:
        headers = self.download(f"/exports/{what}", file, format=fmt, run=run, model=model)
        return int(headers.get("x-rows", 0))

    def imagefolder(self, out: Path) -> int:
        from .export import unpack_imagefolder

        with tempfile.TemporaryFile() as download:
            self.download("/exports/imagefolder", download)
            return unpack_imagefolder(download, Path(out))

    def check(self, repair: bool = False, progress: JobUpdate | None = None) -> dict:
        """The server's check job, followed to its end; then the report it kept."""
        job = self.run("check", progress, repair=repair)
        if job["status"] != "done":
            raise ClientError(job_error(job))
        return self.call("GET", "/check").json()

    def backup(self, out: Path) -> str:
        return self.call("POST", "/backup", {"out": str(Path(out).expanduser().resolve())}).json()["message"]

    def add_user(self, name: str, role: str, password: str) -> None:
        self.call("POST", "/users", {"name": name, "role": role, "password": password})

    def set_team(self, on: bool) -> bool:
        return self.call("PUT", "/team", {"on": on}).json()["team_mode"]

    def team_mode(self) -> bool:
        return self.call("GET", "/health").json()["team_mode"]

    def create_token(self, user: str, note: str = "") -> str:
        return self.call("POST", "/tokens", {"user": user, "note": note}).json()["token"]


@contextmanager
def interrupts_held() -> Iterator[list]:
    """Hold Ctrl+C while a job is being started, and say afterwards whether it came.

    The job exists on the server before its id comes back: an interrupt in between would end this
    process and leave the job running with nobody following it. A second Ctrl+C gives up waiting (a
    server that does not answer would otherwise hold it for the request's 60 s). Only the main thread
    receives signals, so elsewhere (a notebook's worker thread) nothing is held."""
    caught: list = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def hold(*_) -> None:
        if caught:
            raise KeyboardInterrupt
        caught.append(True)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


def _follow(client: ProjectClient, job_id: int, updates: Callable[[], Iterator[dict]], on_update: JobUpdate) -> dict:
    """Show each update until the job ends; on Ctrl+C ask it to stop and wait until it has."""
    job = None
    try:
        for job in updates():
            on_update(job)
    except KeyboardInterrupt:
        client.cancel(job_id)
        for job in updates():
            on_update(job)
    return job if job is not None and not job["active"] else client.job(job_id)


FILTERS = {"label", "unlabelled", "status", "flag", "source", "duplicates", "group"}


def _known_filters(filters: dict) -> None:
    unknown = set(filters) - FILTERS
    if unknown:
        raise ClientError(f"Unknown image filter(s): {', '.join(sorted(unknown))}; the filters are "
                          f"{', '.join(sorted(FILTERS))}.")


def _review_filter(filters: dict) -> dict:
    """Review's filter fields from the client's keywords (the API's query names)."""
    _known_filters(filters)
    labels = filters.get("label") or ()
    status = filters.get("status", "ok")
    return {"labels": (labels,) if isinstance(labels, str) else tuple(labels),
            "unlabelled": bool(filters.get("unlabelled")), "status": None if status == "any" else status,
            "flag_kind": filters.get("flag"), "source": filters.get("source") or "",
            "duplicates_only": bool(filters.get("duplicates")), "group": filters.get("group")}


def _query_filter(filters: dict) -> dict:
    _known_filters(filters)
    query = {k: v for k, v in filters.items() if v is not None}
    for key in ("unlabelled", "duplicates"):
        if key in query:
            query[key] = "true" if query[key] else "false"
    return query


def _sentence(response) -> str:
    try:
        return response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"The server answered {response.status_code}."


def progress_bar(kind: str) -> JobUpdate:
    """A progress bar on stderr (tqdm), drawn only on a terminal, counting the operation's unit."""
    from tqdm import tqdm

    from .jobs.kinds import OPERATIONS

    bar = tqdm(total=0, unit=OPERATIONS[kind].unit if kind in OPERATIONS else "step", disable=None, file=sys.stderr)

    def update(job: dict) -> None:
        bar.total, bar.n = job.get("total") or 0, job.get("done") or 0
        bar.set_description_str(job.get("message") or "", refresh=True)
        if not job["active"]:
            bar.close()
    return update
