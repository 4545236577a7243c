"""The OpenAPI document of `/api/v1/` (served at `/api/v1/openapi.json`).

The request schema of `POST /jobs` is drawn from the operations' params dataclasses, so the API's
documentation cannot drift from what the command line and the pages accept.
"""

from __future__ import annotations

from . import __version__
from .jobs import OPERATIONS

IDS = {"type": "array", "items": {"type": "integer"}, "description": "image ids"}
ERROR = {"description": "refused, with one sentence",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def body(properties: dict, required: list[str]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": required, "additionalProperties": False}}}}


def op(summary: str, request: dict | None = None, params: list | None = None, ok: str = "200") -> dict:
    spec = {"summary": summary, "responses": {ok: {"description": "done"}, "400": ERROR, "401": ERROR, "403": ERROR,
                                              "404": ERROR}}
    if request:
        spec["requestBody"] = request
    if params:
        spec["parameters"] = params
    return spec


def query(name: str, kind: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


def path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def job_request() -> dict:
    variants = [{"type": "object", "title": name, "required": ["kind"], "additionalProperties": False,
                 "description": operation.summary,
                 "properties": {"kind": {"const": name}, "params": operation.json_schema()}}
                for name, operation in OPERATIONS.items()]
    return {"required": True, "content": {"application/json": {"schema": {"oneOf": variants}}}}


IMAGE_FILTERS = [
    query("status", "string", "ok (default), failed or any"),
    query("label", "string", "a label; repeat for several"),
    query("unlabelled", "boolean", "images without a label (with label: either)"),
    query("flag", "string", "a flag kind, any, or none"),
    query("source", "string", "text the path or URL contains (literal)"),
    query("duplicates", "boolean", "only images with duplicates"),
    query("group", "integer", "one near-duplicate group"),
    query("page", "integer", "0-based page"),
    query("page_size", "integer", "rows a page (default 100, at most 1000)"),
]


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Curation Studio project API", "version": __version__,
                 "description": "Every route but this one needs `Authorization: Bearer <token>`: the token in "
                                "<project>/.curation/serve.json, or a user's API token in team mode."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}},
                                  "required": ["error"]}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": op("the project served, the caller's name, team mode")},
            "/report": {"get": op("`curation report --json`'s object")},
            "/images": {"get": op("a page of images, filtered like Review's grid", params=IMAGE_FILTERS)},
            "/images/{image_id}": {"get": op("one image's row", params=[path("image_id")])},
            "/edits/label": {"post": op("label images (an event each, undoable)",
                                        body({"images": IDS, "label": {"type": "string"}}, ["images", "label"]))},
            "/edits/flag": {"post": op("flag images", body({"images": IDS, "kind": {"type": "string"},
                                                            "note": {"type": "string"}}, ["images", "kind"]))},
            "/edits/clear-flags": {"post": op("clear images' flags (of one kind, or all)",
                                              body({"images": IDS, "kind": {"type": "string"}}, ["images"]))},
            "/edits/tag": {"post": op("set (or, with no value, clear) an audited attribute",
                                      body({"images": IDS, "attribute": {"type": "string"},
                                            "value": {"type": "string"}}, ["images", "attribute"]))},
            "/edits/undo": {"post": op("undo the caller's latest change", body({}, []))},
            "/operations": {"get": op("every job kind with its params' JSON schema")},
            "/jobs": {"get": op("recent jobs", params=[query("kind", "string", "one kind"),
                                                       query("limit", "integer", "at most 200")]),
                      "post": op("start a job", job_request(), ok="201")},
            "/jobs/{job_id}": {"get": op("a job's state and progress", params=[path("job_id")])},
            "/jobs/{job_id}/cancel": {"post": op("ask a running job to stop", params=[path("job_id")])},
            "/jobs/{job_id}/events": {"get": op("server-sent events (`event: job`) at each change until the job "
                                                "ends", params=[path("job_id")])},
            "/exports/{what}": {"get": op("images, predictions, embeddings or suggestions as CSV or Parquet "
                                          "(DESIGN.md's columns)",
                                          params=[{"name": "what", "in": "path", "required": True,
                                                   "schema": {"enum": ["images", "predictions", "embeddings",
                                                                       "suggestions"]}},
                                                  query("format", "string", "csv or parquet"),
                                                  query("run", "integer", "predictions of one run"),
                                                  query("model", "string", "one embedder")])},
            "/exports/imagefolder": {"get": op("usable, labelled images as a zip of <label>/<sha256>.<ext>")},
            "/runs/{run_id}/predict": {"post": op(
                "one image (raw body, or multipart field `image`) through a run's bundle in the project: "
                "label, confidence, top, ood, ood_score (and faces for a face model), as `curation deploy` "
                "answers", params=[path("run_id")])},
            "/check": {"get": op("the latest check's report: counts and lists (run a `check` job first)")},
            "/backup": {"post": op("back the project up into a new folder on the server's disk (admin)",
                                   body({"out": {"type": "string"}}, ["out"]))},
            "/users": {"post": op("add a user (admin)", body({"name": {"type": "string"}, "role": {"type": "string"},
                                                              "password": {"type": "string"}},
                                                             ["name", "role", "password"]))},
            "/team": {"put": op("turn team mode on or off (admin)", body({"on": {"type": "boolean"}}, ["on"]))},
            "/tokens": {"post": op("create a user's API token, shown once (admin)",
                                   body({"user": {"type": "string"}, "note": {"type": "string"}}, ["user"]),
                                   ok="201")},
            "/tokens/{token_id}": {"delete": op("revoke an API token (admin)", params=[path("token_id")])},
        },
    }
