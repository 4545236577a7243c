"""The project API in process (Starlette's test client over the real store): auth, edits, jobs, bad input."""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from curation import api, jobs
from curation.store import open_store
from helpers import make_operation, slow_job

TOKEN = "server-token-for-tests"
PASSWORD = "correct horse battery"


@pytest.fixture
def served(project_copy):
    store = open_store(project_copy)
    api.STATE.store, api.STATE.token = store, TOKEN
    client = TestClient(Starlette(routes=[api.api_mount()]), base_url="http://127.0.0.1")
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    yield client, store
    wait_for_jobs(store)
    api.STATE.store = api.STATE.token = None
    store.close()


def wait_for_jobs(store, seconds: float = 30) -> None:
    for job in store.jobs():
        if job.active:
            store.request_cancel(job.id)
    deadline = time.monotonic() + seconds
    while any(job.active for job in store.jobs()) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_client_unpacks_the_streamed_image_folder(served, tmp_path):
    from curation.client import ServedProject

    client, store = served
    remote = ServedProject("http://127.0.0.1", TOKEN)
    remote.http = client
    client.base_url = "http://127.0.0.1/api/v1"
    written = remote.imagefolder(tmp_path / "out")
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*"))
    expected = sorted(f"{label}/{sha}.{ext}" for sha, ext, label in store.labelled_originals())
    assert written == len(files) == len(expected) > 0 and files == expected


def test_no_token_or_a_forged_one_gets_401_and_nothing_else(served):
    client, _ = served
    bare = TestClient(client.app, base_url="http://127.0.0.1")
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": f"Basic {TOKEN}"}):
        response = bare.get("/api/v1/report", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"error"}
    assert bare.get("/api/v1/openapi.json").status_code == 200, "the schema is public"


def test_the_report_is_the_store_report(served):
    client, store = served
    assert client.get("/api/v1/report").json() == json.loads(json.dumps(store.report(), default=str))


def test_images_are_filtered_and_paged_like_review(served):
    client, store = served
    page = client.get("/api/v1/images", params={"label": "circle", "page_size": 5}).json()
    assert page["total"] == store.report()["labels"]["circle"] and len(page["items"]) == 5
    assert {item["label"] for item in page["items"]} == {"circle"}
    second = client.get("/api/v1/images", params={"label": "circle", "page_size": 5, "page": 1}).json()
    assert not {i["id"] for i in page["items"]} & {i["id"] for i in second["items"]}
    failed = client.get("/api/v1/images", params={"status": "failed"}).json()
    assert failed["total"] == store.report()["images"]["failed"] and failed["items"][0]["reason"]
    assert client.get("/api/v1/images", params={"status": "broken"}).status_code == 400
    assert client.get("/api/v1/images", params={"page": "-1"}).status_code == 400
    assert client.get("/api/v1/images", params={"source": "%"}).status_code == 200


def test_an_edit_is_an_event_of_the_caller_and_undoes(served):
    client, store = served
    ids = [i["id"] for i in client.get("/api/v1/images", params={"page_size": 2}).json()["items"]]
    named = {"X-Curation-Actor": "ada"}
    assert client.post("/api/v1/edits/label", json={"images": ids, "label": "oval"}, headers=named).json() == \
        {"changed": 2}
    assert {store.image(i)["label"] for i in ids} == {"oval"}
    assert store.image_history(ids[0]).iloc[0]["actor"] == "ada"
    flagged = client.post("/api/v1/edits/flag", json={"images": ids[:1], "kind": "low_quality", "note": "soft"},
                          headers=named)
    assert flagged.status_code == 200, flagged.text
    undone = client.post("/api/v1/edits/undo", json={}, headers=named).json()
    assert "Undid" in undone["message"]
    assert client.post("/api/v1/edits/undo", json={}, headers=named).status_code == 200
    assert {store.image(i)["label"] for i in ids} != {"oval"}


@pytest.mark.parametrize("body,status,words", [
    ({"images": [999999], "label": "x"}, 404, "No image #999999"),
    ({"images": [1], "label": "x", "colour": "red"}, 400, "Unknown field"),
    ({"images": ["1"], "label": "x"}, 400, "list of image ids"),
    ({"images": [1]}, 400, "'label' is missing"),
    ({"images": [], "label": "x"}, 400, "at least one image"),
    ({"images": [1], "label": 7}, 400, "wrong type"),
])
def test_bad_edits_get_one_sentence(served, body, status, words):
    client, _ = served
    response = client.post("/api/v1/edits/label", json=body)
    assert response.status_code == status and words in response.json()["error"]


def test_bodies_that_are_not_small_json_objects_are_refused(served):
    client, _ = served
    too_big = client.post("/api/v1/edits/label", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                          headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert client.post("/api/v1/edits/label", content=b"not json").status_code == 400
    assert client.post("/api/v1/edits/label", json=[1, 2]).status_code == 400


def test_unknown_job_kinds_and_params_are_4xx(served):
    client, store = served
    assert client.post("/api/v1/jobs", json={"kind": "bake"}).status_code == 404
    response = client.post("/api/v1/jobs", json={"kind": "embed", "params": {"model": "hog", "speed": 2}})
    assert response.status_code == 400 and "no parameter 'speed'" in response.json()["error"]
    assert client.get("/api/v1/jobs/424242").status_code == 404
    assert store.jobs() == []


def test_a_job_runs_reports_progress_by_events_and_cancels(served, monkeypatch):
    client, store = served
    monkeypatch.setitem(jobs.OPERATIONS, "slow", make_operation("slow", slow_job(200)))
    created = client.post("/api/v1/jobs", json={"kind": "slow", "params": {}})
    assert created.status_code == 201 and created.json()["active"]
    job_id = created.json()["id"]
    time.sleep(0.2)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] in ("cancelling", "cancelled")
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as events:
        seen = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")]
    assert seen[-1]["status"] == "cancelled" and seen[-1]["message"] == "stopped early"
    assert client.get("/api/v1/jobs", params={"kind": "slow"}).json()["jobs"][0]["id"] == job_id


def test_exports_stream_the_same_rows_as_the_store(served):
    client, store = served
    response = client.get("/api/v1/exports/images")
    frame = pd.read_csv(io.StringIO(response.text))
    assert len(frame) == len(store.export_images()) == int(response.headers["x-rows"])
    assert client.get("/api/v1/exports/embeddings", params={"format": "csv"}).status_code == 400
    assert client.get("/api/v1/exports/everything").status_code == 404


def test_team_tokens_act_as_their_user_in_their_role(served):
    client, store = served
    store.add_user("boss", "admin", PASSWORD, "cli")
    store.add_user("ann", "annotator", PASSWORD, "cli")
    store.set_team_mode(True, "cli")
    token = client.post("/api/v1/tokens", json={"user": "ann", "note": "labelling script"}).json()["token"]
    as_ann = {"Authorization": f"Bearer {token}"}
    image_id = client.get("/api/v1/images", params={"page_size": 1}).json()["items"][0]["id"]
    assert client.post("/api/v1/edits/label", json={"images": [image_id], "label": "oval"}, headers=as_ann).json() \
        == {"changed": 1}
    assert client.get("/api/v1/health", headers=as_ann).json()["actor"] == "ann"
    refused = client.post("/api/v1/jobs", json={"kind": "train", "params": {"arch": "linear", "embedder": "hog"}},
                          headers=as_ann)
    assert refused.status_code == 403 and "ann may not train" in refused.json()["error"]
    refused = client.get("/api/v1/exports/images", headers=as_ann)
    assert refused.status_code == 403
    token_id = int(store.api_tokens().iloc[-1]["id"])
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert client.get("/api/v1/report", headers=as_ann).status_code == 401


def test_the_openapi_document_lists_every_route_and_operation(served):
    client, _ = served
    doc = client.get("/api/v1/openapi.json").json()
    routes = {route.path for route in api.ROUTES}
    assert routes == set(doc["paths"]) | {"/openapi.json"}
    variants = doc["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {v["title"] for v in variants} == set(jobs.OPERATIONS)
