"""`curation deploy OUT`: a bundle served alone over HTTP (Starlette on uvicorn, ONNX Runtime).

- `POST /v1/predict`: one image, as the raw body or multipart field `image`;
- `POST /v1/predict/batch`: several multipart fields `image` (at most MAX_BATCH);
- `GET /v1/health`, `GET /v1/card` (`?format=json` for model_card.json).

Bad input answers 4xx with `{"error": sentence}` (never a traceback): an empty body, bytes that
are not an image, a truncated or corrupt image, a decompression bomb, a body over the limit (413,
checked on Content-Length and again while reading). At most `concurrency` predictions run at once;
beyond `concurrency * 8` waiting, requests get 503 at once, so a flood cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from .feedback import FeedbackLog
from .predict import BadInput, Predictor

MAX_BATCH = 32
WAITING_PER_SLOT = 8


class Service:
    def __init__(self, bundle: Path, variant: str, feedback: Path | None, max_body: int, concurrency: int):
        self.bundle = Path(bundle).resolve()
        self.predictor = Predictor.from_bundle(self.bundle, variant)
        self.card = json.loads((self.bundle / "model_card.json").read_text())
        self.run_id = self.card["run"]["id"]
        self.feedback = FeedbackLog(feedback or self.bundle / "feedback", self.bundle.name, self.run_id, variant)
        self.max_body, self.concurrency = max_body, concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.waiting = 0
        self.started = time.time()
        self.counts = {"requests": 0, "ood": 0}

    async def body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise BadInput(413, f"The body is {int(declared):,} bytes, over this service's limit of {self.max_body:,}.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise BadInput(413, f"The body is over this service's limit of {self.max_body:,} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    async def images(self, request: Request, many: bool) -> list[bytes]:
        body = await self.body(request)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return [body]
        request._body = body  # the stream is read: let the form parser read the same bytes
        try:
            form = await request.form(max_files=MAX_BATCH + 1, max_part_size=self.max_body)
        except Exception as exc:  # python-multipart's errors have no common base here
            raise BadInput(400, f"The multipart body could not be read ({exc}).") from None
        files = [await f.read() for f in form.getlist("image") if hasattr(f, "read")]
        if not files:
            raise BadInput(400, "The multipart body has no file field named 'image'.")
        if not many and len(files) > 1:
            raise BadInput(400, "/v1/predict takes one image: send several to /v1/predict/batch.")
        if len(files) > MAX_BATCH:
            raise BadInput(413, f"A batch holds at most {MAX_BATCH} images.")
        return files

    async def answer(self, data: bytes) -> dict:
        if self.waiting >= self.concurrency * WAITING_PER_SLOT:
            raise BadInput(503, "The service is busy: too many requests are waiting; try again shortly.")
        self.waiting += 1
        try:
            async with self.slots:
                answer = await run_in_threadpool(self.predictor.predict, data)
        finally:
            self.waiting -= 1
        self.counts["requests"] += 1
        self.counts["ood"] += answer["ood"]
        why = "ood" if answer["ood"] else "low_confidence" if self.predictor.needs_a_person(answer) else None
        await run_in_threadpool(self.feedback.record, data, answer, why)
        return answer

    async def predict(self, request: Request) -> JSONResponse:
        (data,) = await self.images(request, many=False)
        return JSONResponse(await self.answer(data))

    async def predict_batch(self, request: Request) -> JSONResponse:
        results = []
        for data in await self.images(request, many=True):
            try:
                results.append(await self.answer(data))
            except BadInput as exc:
                results.append({"error": str(exc), "status": exc.status})
        return JSONResponse({"results": results})

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "run": self.run_id, "variant": self.predictor.variant,
                             "kind": self.predictor.kind, "labels": self.predictor.labels,
                             "ood_method": self.predictor.gate.method, "uptime_s": round(time.time() - self.started, 1),
                             **self.counts, "feedback": str(self.feedback.folder)})

    async def card_page(self, request: Request):
        if request.query_params.get("format") == "json":
            return JSONResponse(self.card)
        return PlainTextResponse((self.bundle / "MODEL_CARD.md").read_text(), media_type="text/markdown")


async def bad_input(request: Request, exc: BadInput) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    sentence = {404: "There is no such endpoint: see /v1/health, /v1/card, /v1/predict, /v1/predict/batch.",
                405: "This endpoint does not take that method."}.get(exc.status_code, str(exc.detail))
    return JSONResponse({"error": sentence}, status_code=exc.status_code)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": f"The service failed on this request ({type(exc).__name__}); it is still up."},
                        status_code=500)


def create_app(bundle: Path, variant: str = "fp32", feedback: Path | None = None, max_body: int = 20 * 1024 * 1024,
               concurrency: int = 4) -> Starlette:
    service = Service(bundle, variant, feedback, max_body, concurrency)
    routes = [Route("/v1/predict", service.predict, methods=["POST"]),
              Route("/v1/predict/batch", service.predict_batch, methods=["POST"]),
              Route("/v1/health", service.health, methods=["GET"]),
              Route("/v1/card", service.card_page, methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={BadInput: bad_input, HTTPException: http_error,
                                                       Exception: server_error})
    app.state.service = service
    return app


def serve(bundle: Path, host: str = "127.0.0.1", port: int = 8000, variant: str = "fp32",
          feedback: str | None = None, max_body: int = 20 * 1024 * 1024, concurrency: int = 4) -> None:
    import uvicorn

    app = create_app(bundle, variant, Path(feedback) if feedback else None, max_body, concurrency)
    print(f"Serving {Path(bundle).resolve()} ({variant}) on http://{host}:{port}/v1/predict; "
          f"feedback in {app.state.service.feedback.folder}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
