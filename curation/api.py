"""The project's HTTP API, `/api/v1/`, served in the app's own process (`curation serve`).

The process that serves the app owns the project's database, so every other client — the command
line, a notebook, a script on a GPU box — speaks to it here. Every route calls the same store and
job functions the pages call, so the same events are written, with the caller as their actor, and
the library's role checks apply unchanged.

Who may call: the token in `<project>/.curation/serve.json` (whoever can read the project folder:
the owner, acting as the command line does) or, in team mode, a user's API token (acting as that
user, in their role). No token or a wrong one: 401; a role that may not: 403 with the sentence;
bad input: 4xx with `{"error": sentence}`, never a traceback (the server's log has the details).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from . import __version__
from . import export as exports
from .accounts import MAX_USER_NAME_LENGTH, PermissionDenied
from .jobs import OPERATIONS, JobError, ParamError, cancel_job, start_job
from .project import ProjectError
from .store import AccountError, EditError, ReviewFilter
from .store.accounts import OWNER

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024 * 1024
MAX_PAGE_SIZE = 1000
SSE_POLL_SECONDS = 0.25
EXPORTS = ("images", "predictions", "embeddings", "suggestions")


class ApiError(Exception):
    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class Caller:
    actor: str


@dataclass
class ApiState:
    """What the routes need: the served project's store and the server's own token."""

    store: Any = None
    token: str | None = None


STATE = ApiState()


def error(status: int, sentence: str) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status)


def endpoint(handler: Callable, auth: bool = True) -> Callable:
    """Wrap a handler `(request, caller) -> response data`: authenticate, map the library's refusals to
    4xx sentences, and keep tracebacks in the log."""
    async def wrapped(request: Request) -> Response:
        try:
            caller = await run_in_threadpool(authenticate, request) if auth else None
            result = await handler(request, caller)
        except ApiError as exc:
            return error(exc.status, str(exc))
        except PermissionDenied as exc:
            return error(403, str(exc))
        except (EditError, AccountError, JobError, ParamError, ValueError) as exc:
            return error(400, str(exc))
        except ProjectError as exc:
            return error(503, str(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error(500, "The server could not do this; its log says why.")
        return result if isinstance(result, Response) else JSONResponse(result)
    return wrapped


def authenticate(request: Request) -> Caller:
    store = served_store()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "This API needs a token: `Authorization: Bearer <token>`.")
    if STATE.token and _same(token, STATE.token):
        return Caller(owner_actor(request, store))
    principal = store.principal_for_api_token(token) if store.team_mode() else None
    if principal is None:
        raise ApiError(401, "That token opens nothing here.")
    return Caller(principal.name)


def owner_actor(request: Request, store) -> str:
    """The server token acts as the command line; in single-user mode it may name the person."""
    named = request.headers.get("x-curation-actor", "").strip()
    if named and not store.team_mode():
        return named[:MAX_USER_NAME_LENGTH]
    return OWNER


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def served_store():
    if STATE.store is None:
        raise ApiError(503, "The server has no project open.")
    return STATE.store


async def json_body(request: Request) -> dict:
    """The request's JSON object, at most MAX_JSON_BYTES."""
    if int(request.headers.get("content-length") or 0) > MAX_JSON_BYTES:
        raise ApiError(413, f"A request body has at most {MAX_JSON_BYTES // 1024} KiB of JSON.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, f"A request body has at most {MAX_JSON_BYTES // 1024} KiB of JSON.")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, "The request body is not JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body is a JSON object.")
    return data


def fields(data: dict, required: dict[str, type], optional: dict[str, type] | None = None) -> dict:
    """The body's fields, checked: none unknown, the required ones present, each of its type."""
    optional = optional or {}
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise ApiError(400, f"Unknown field(s) {', '.join(map(repr, unknown))}; this takes "
                            f"{', '.join([*required, *optional])}.")
    for name, kind in {**required, **optional}.items():
        if name not in data:
            if name in required:
                raise ApiError(400, f"The field '{name}' is missing.")
            continue
        value = data[name]
        if value is None and name in optional:
            continue
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ApiError(400, f"The field '{name}' is a list of image ids (whole numbers).")
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError(400, f"The field '{name}' has the wrong type: {kind.__name__} expected.")
    return data


def known_images(store, ids: list[int]) -> list[int]:
    if not ids:
        raise ApiError(400, "Name at least one image id.")
    missing = store.missing_image_ids(ids)
    if missing:
        raise ApiError(404, f"No image #{missing[0]} in this project" + (
            f" (and {len(missing) - 1} more ids)." if len(missing) > 1 else "."))
    return ids


def jsonable(value):
    if dataclasses.is_dataclass(value):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "isoformat"):
        return None if value != value else value.isoformat()
    return value


def job_view(job) -> dict:
    view = jsonable(job)
    view["active"] = job.active
    return view


# --- routes -----------------------------------------------------------------------------------

async def health(request: Request, caller: Caller) -> dict:
    store = served_store()
    return {"ok": True, "version": __version__, "project": str(store.project.root), "team_mode": store.team_mode(),
            "actor": caller.actor}


async def report(request: Request, caller: Caller) -> dict:
    return jsonable(await run_in_threadpool(served_store().report))


def review_filter(query) -> ReviewFilter:
    def flag(name: str) -> bool:
        return query.get(name, "false").lower() in ("1", "true", "yes")

    group = query.get("group")
    status = query.get("status", "ok")
    if status not in ("ok", "failed", "any"):
        raise ApiError(400, "status is ok, failed or any.")
    return ReviewFilter(labels=tuple(query.getlist("label")), unlabelled=flag("unlabelled"),
                        status=None if status == "any" else status, flag_kind=query.get("flag") or None,
                        source=query.get("source", ""), duplicates_only=flag("duplicates"),
                        group=whole(group, "group") if group else None)


def whole(text: str, name: str, minimum: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} is a whole number, not {text!r}.") from None
    if value < minimum:
        raise ApiError(400, f"{name} is at least {minimum}.")
    return value


async def images(request: Request, caller: Caller) -> dict:
    query = request.query_params
    flt = review_filter(query)
    page = whole(query.get("page", "0"), "page")
    size = min(whole(query.get("page_size", "100"), "page_size", 1), MAX_PAGE_SIZE)
    store = served_store()

    def read():
        return store.count_images(flt), store.page_images(flt, page, size)

    total, items = await run_in_threadpool(read)
    return {"total": total, "page": page, "page_size": size, "items": jsonable(items)}


async def image(request: Request, caller: Caller) -> dict:
    image_id = whole(request.path_params["image_id"], "image id")
    store = served_store()
    row = await run_in_threadpool(store.image, image_id)
    if row is None:
        raise ApiError(404, f"No image #{image_id} in this project.")
    return jsonable(row)


async def edit_label(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"images": list, "label": str})
    store = served_store()
    ids = known_images(store, data["images"])
    return {"changed": await run_in_threadpool(store.set_label, ids, data["label"], caller.actor)}


async def edit_flag(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"images": list, "kind": str}, {"note": str})
    store = served_store()
    ids = known_images(store, data["images"])
    changed = await run_in_threadpool(store.add_flag, ids, data["kind"], data.get("note") or "", caller.actor)
    return {"changed": changed}


async def edit_clear_flags(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"images": list}, {"kind": str})
    store = served_store()
    ids = known_images(store, data["images"])
    return {"changed": await run_in_threadpool(store.clear_flags, ids, data.get("kind"), caller.actor)}


async def edit_tag(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"images": list, "attribute": str}, {"value": str})
    store = served_store()
    ids = known_images(store, data["images"])
    changed = await run_in_threadpool(store.tag_images, ids, data["attribute"], data.get("value"), caller.actor)
    return {"changed": changed}


async def edit_undo(request: Request, caller: Caller) -> dict:
    fields(await json_body(request), {})
    result = await run_in_threadpool(served_store().undo_last, caller.actor)
    return {"message": result.line(), **jsonable(result)}


async def operations(request: Request, caller: Caller) -> dict:
    return {name: {"summary": op.summary, "unit": op.unit, "action": op.guarded_action, "params": op.json_schema()}
            for name, op in OPERATIONS.items()}


async def list_jobs(request: Request, caller: Caller) -> dict:
    kind = request.query_params.get("kind") or None
    limit = min(whole(request.query_params.get("limit", "20"), "limit", 1), 200)
    jobs = await run_in_threadpool(served_store().jobs, kind, limit)
    return {"jobs": [job_view(j) for j in jobs]}


async def create_job(request: Request, caller: Caller) -> JSONResponse:
    data = fields(await json_body(request), {"kind": str}, {"params": dict})
    if data["kind"] not in OPERATIONS:
        raise ApiError(404, f"There is no job kind '{data['kind']}'; the kinds are {', '.join(OPERATIONS)}.")
    store = served_store()
    job_id = await run_in_threadpool(start_job, store, data["kind"], data.get("params") or {}, caller.actor)
    return JSONResponse(job_view(store.job(job_id)), status_code=201)


def existing_job(request: Request):
    job_id = whole(request.path_params["job_id"], "job id")
    job = served_store().job(job_id)
    if job is None:
        raise ApiError(404, f"No job #{job_id} in this project.")
    return job


async def get_job(request: Request, caller: Caller) -> dict:
    return job_view(await run_in_threadpool(existing_job, request))


async def cancel(request: Request, caller: Caller) -> dict:
    job = await run_in_threadpool(existing_job, request)
    store = served_store()
    await run_in_threadpool(cancel_job, store, job.id, caller.actor)
    return job_view(store.job(job.id))


async def job_events(request: Request, caller: Caller) -> StreamingResponse:
    """Server-sent events: the job's state each time it changes, until it ends."""
    job = await run_in_threadpool(existing_job, request)
    store = served_store()

    async def stream():
        last = None
        while True:
            current = await run_in_threadpool(store.job, job.id)
            view = job_view(current)
            if view != last:
                yield f"event: job\ndata: {json.dumps(view)}\n\n"
                last = view
            if not current.active:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(SSE_POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def export(request: Request, caller: Caller) -> Response:
    what = request.path_params["what"]
    if what not in EXPORTS:
        raise ApiError(404, f"There is no export '{what}'; exports are {', '.join(EXPORTS)}.")
    store = served_store()
    await run_in_threadpool(store.require, caller.actor, "export")
    query = request.query_params
    fmt = query.get("format") or ("parquet" if what == "embeddings" else "csv")
    if fmt not in ("csv", "parquet"):
        raise ApiError(400, "format is csv or parquet.")
    if what == "embeddings" and fmt == "csv":
        raise ApiError(400, "Embeddings are exported as Parquet: use format=parquet.")
    run = whole(query["run"], "run") if query.get("run") else None
    rows, chunks = await run_in_threadpool(exports.stream_export, store, what, fmt, run, query.get("model") or None)
    return StreamingResponse(chunks, media_type="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                             headers={"Content-Disposition": f'attachment; filename="{what}.{fmt}"',
                                      "X-Rows": str(rows)})


async def export_imagefolder(request: Request, caller: Caller) -> Response:
    """Usable, labelled images as one zip of `<label>/<sha256>.<ext>` (stored, not recompressed)."""
    store = served_store()
    await run_in_threadpool(store.require, caller.actor, "export")
    chunks, rows = await run_in_threadpool(exports.imagefolder_zip, store)
    return StreamingResponse(chunks, media_type="application/zip", headers={"X-Rows": str(rows)})


async def last_check(request: Request, caller: Caller) -> dict:
    """The report of the latest check (the "check" job's counts and lists)."""
    store = served_store()
    await run_in_threadpool(store.require, caller.actor, "check")
    report = await run_in_threadpool(store.last_check)
    if report is None:
        raise ApiError(404, "This project has not been checked yet: start a check job.")
    return report


async def backup(request: Request, caller: Caller) -> dict:
    """A consistent copy of the project into a new folder on the server's disk, taken by the process
    that holds the database."""
    from .backup import backup_project

    data = fields(await json_body(request), {"out": str})
    store = served_store()
    await run_in_threadpool(store.require, caller.actor, "backup")
    summary = await run_in_threadpool(backup_project, store, data["out"])
    return {"path": str(summary.path), "files": summary.files, "bytes": summary.bytes,
            "message": summary.line("Backed up")}


PREDICT_MAX_BODY = 20 * 1024 * 1024
PREDICT_CONCURRENCY = 2


@functools.lru_cache(maxsize=4)
def run_service(folder: Path, card_mtime_ns: int):
    """The inference service of a run's bundle (curation deploy's), loaded once per bundle written."""
    from .deploy.server import Service

    return Service(folder, "fp32", None, PREDICT_MAX_BODY, PREDICT_CONCURRENCY)


async def predict_run(request: Request, caller: Caller) -> Response:
    """`POST /runs/{id}/predict`: what `curation deploy` answers at /v1/predict, for a run of this
    project whose bundle is in <project>/bundles/run-NNNN (a `bundle` job writes it there)."""
    from .deploy.bundle import bundle_folder
    from .deploy.predict import BadInput

    run_id = whole(request.path_params["run_id"], "run id")
    store = served_store()
    card = bundle_folder(store.project.root, run_id) / "model_card.json"
    if not card.is_file():
        raise ApiError(404, f"Run #{run_id} has no bundle in this project yet: start a bundle job for it "
                            f"(`curation bundle {store.project.root} --run {run_id}`).")
    service = await run_in_threadpool(run_service, card.parent, card.stat().st_mtime_ns)
    try:
        return await service.predict(request)
    except BadInput as exc:
        raise ApiError(exc.status, str(exc)) from None


async def add_user(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"name": str, "role": str, "password": str})
    store = served_store()
    await run_in_threadpool(store.add_user, data["name"], data["role"], data["password"], caller.actor)
    return {"name": data["name"], "role": data["role"], "team_mode": store.team_mode()}


async def set_team(request: Request, caller: Caller) -> dict:
    data = fields(await json_body(request), {"on": bool})
    store = served_store()
    await run_in_threadpool(store.set_team_mode, data["on"], caller.actor)
    return {"team_mode": store.team_mode()}


async def create_token(request: Request, caller: Caller) -> JSONResponse:
    data = fields(await json_body(request), {"user": str}, {"note": str})
    token = await run_in_threadpool(served_store().create_api_token, data["user"], data.get("note") or "", caller.actor)
    return JSONResponse({"user": data["user"], "token": token}, status_code=201)


async def revoke_token(request: Request, caller: Caller) -> dict:
    token_id = whole(request.path_params["token_id"], "token id")
    await run_in_threadpool(served_store().revoke_api_token, token_id, caller.actor)
    return {"revoked": token_id}


async def openapi(request: Request, caller: Caller) -> dict:
    from .api_schema import openapi_document

    return openapi_document()


ROUTES = [
    Route("/openapi.json", endpoint(openapi, auth=False)),
    Route("/health", endpoint(health)),
    Route("/report", endpoint(report)),
    Route("/images", endpoint(images)),
    Route("/images/{image_id}", endpoint(image)),
    Route("/edits/label", endpoint(edit_label), methods=["POST"]),
    Route("/edits/flag", endpoint(edit_flag), methods=["POST"]),
    Route("/edits/clear-flags", endpoint(edit_clear_flags), methods=["POST"]),
    Route("/edits/tag", endpoint(edit_tag), methods=["POST"]),
    Route("/edits/undo", endpoint(edit_undo), methods=["POST"]),
    Route("/operations", endpoint(operations)),
    Route("/jobs", endpoint(list_jobs), methods=["GET"]),
    Route("/jobs", endpoint(create_job), methods=["POST"]),
    Route("/jobs/{job_id}", endpoint(get_job)),
    Route("/jobs/{job_id}/cancel", endpoint(cancel), methods=["POST"]),
    Route("/jobs/{job_id}/events", endpoint(job_events)),
    Route("/exports/imagefolder", endpoint(export_imagefolder)),
    Route("/exports/{what}", endpoint(export)),
    Route("/runs/{run_id}/predict", endpoint(predict_run), methods=["POST"]),
    Route("/check", endpoint(last_check)),
    Route("/backup", endpoint(backup), methods=["POST"]),
    Route("/users", endpoint(add_user), methods=["POST"]),
    Route("/team", endpoint(set_team), methods=["PUT"]),
    Route("/tokens", endpoint(create_token), methods=["POST"]),
    Route("/tokens/{token_id}", endpoint(revoke_token), methods=["DELETE"]),
]


def api_mount() -> Mount:
    return Mount("/api/v1", routes=ROUTES)
