"""Gather: search each query, download every hit, verify it like an ingested file, record it all.

The searches run one after another (providers ask for politeness); the downloads run together
in one event loop (`Downloader`), verification in a thread pool (`ingest.outcome_for_bytes`, the
same checks, originals and thumbnails as ingest), and outcomes are recorded in chunks, each with
the hits' `downloads` rows in one transaction (`store.record_downloads`), so a killed gather
followed by the same gather ends where an uninterrupted one would. A URL already downloaded, by
this run or an earlier one, is not fetched again; identical bytes from two URLs are one image.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable

from ..ingest import CHUNK, FileTask, IngestSummary, NearDuplicateIndex, clear_partial_writes, default_workers
from ..ingest import outcome_for_bytes, plan_chunk
from ..jobs.runner import Progress
from ..names import NameRefused, check_name
from .download import TRANSIENT, Downloader, Fetched, Limits
from .guard import Guard
from .providers import Hit, ProviderError, get_provider, search

MAX_PER_QUERY = 1000
MAX_LABEL = 100



class GatherError(ValueError):
    """A gather request that cannot run as given, with a sentence that says what to change."""


@dataclass(frozen=True)
class QuerySpec:
    label: str
    query: str


@dataclass(frozen=True)
class GatherRequest:
    provider: str
    queries: tuple[QuerySpec, ...]
    per_query: int

    def params(self) -> dict:
        """The "gather" operation's params (curation.jobs.kinds.GatherParams) for this request."""
        return {"provider": self.provider, "query": [q.query for q in self.queries],
                "label": [q.label for q in self.queries], "max": self.per_query}


def parse_queries(text: str) -> tuple[QuerySpec, ...]:
    """`label: search text`, one a line; a line without a colon is its own label. Repeats count once."""
    specs: list[QuerySpec] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        label, colon, query = line.partition(":")
        label, query = (label.strip(), query.strip()) if colon else (line, line)
        if not label or not query:
            raise GatherError(f"Line {number} ('{line}') needs a label and a search: write it as `label: search text`.")
        if QuerySpec(label, query) not in specs:
            specs.append(QuerySpec(label, query))
    if not specs:
        raise GatherError("Type at least one query, one a line, as `label: search text`.")
    return tuple(specs)


def check_request(request: GatherRequest) -> None:
    """Raise `ProviderError` or `GatherError` for a request that cannot start, before anything runs."""
    provider = get_provider(request.provider)
    if message := provider.missing_key():
        raise ProviderError(message)
    if not request.queries:
        raise GatherError("Type at least one query, one a line, as `label: search text`.")
    for spec in request.queries:
        if not spec.label.strip() or not spec.query.strip():
            raise GatherError("Each query needs a label and a search text.")
        if len(spec.label) > MAX_LABEL:
            raise GatherError(f"The label '{spec.label[:20]}…' is too long ({MAX_LABEL} characters at most).")
        try:
            check_name(spec.label, "label")
        except NameRefused as exc:
            raise GatherError(str(exc)) from None
    if not 1 <= request.per_query <= MAX_PER_QUERY:
        raise GatherError(f"Ask for 1 to {MAX_PER_QUERY} images a query, not {request.per_query}.")
    Guard.from_env()


@dataclass(frozen=True)
class DownloadRecord:
    """One hit's outcome, as `store.record_downloads` writes it."""

    job_id: int
    label: str
    hit: Hit
    status: str
    reason: str | None = None
    detail: str | None = None
    image_id: int | None = None
    nbytes: int | None = None
    attempts: int = 0
    seconds: float = 0.0


@dataclass
class GatherSummary:
    queries: int = 0
    hits: int = 0
    done_before: int = 0
    ok: int = 0
    failed: int = 0
    refused: int = 0
    failed_by_reason: Counter = field(default_factory=Counter)
    ingest: IngestSummary = field(default_factory=IngestSummary)
    search_errors: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    def count(self, records: list[DownloadRecord]) -> None:
        for record in records:
            setattr(self, record.status, getattr(self, record.status) + 1)
            if record.status != "ok":
                self.failed_by_reason[record.reason] += 1

    def line(self) -> str:
        queries = f"{self.queries} quer{'y' if self.queries == 1 else 'ies'}"
        text = (f"{self.hits} hits for {queries}: {self.ingest.new_images} new images, "
                f"{self.ingest.exact_duplicates} exact and {self.ingest.near_duplicates} near duplicates, "
                f"{self.failed} failed, {self.refused} refused")
        if self.done_before:
            text += f", {self.done_before} done by an earlier run"
        for query, error in self.search_errors.items():
            text += f"; the search for '{query}' failed: {error}"
        return text + (" (cancelled)" if self.cancelled else "")


def record_for(job_id: int, spec: QuerySpec, hit: Hit, fetched: Fetched, outcome) -> DownloadRecord:
    """A fetched hit's record; bytes that verification turned down make it `failed` with verify's reason."""
    if outcome is not None and outcome.status == "failed":
        status, reason, detail = "failed", outcome.reason, outcome.detail
    else:
        status, reason, detail = fetched.status, fetched.reason, fetched.detail
    return DownloadRecord(job_id, spec.label, hit, status, reason, detail, nbytes=outcome.nbytes if outcome else None,
                          attempts=fetched.attempts, seconds=round(fetched.seconds, 3))


def interleave(found: list[list[tuple[QuerySpec, Hit]]]) -> list[tuple[QuerySpec, Hit]]:
    """Hits taken in turn from each query, best ranks first, so every query advances together."""
    return [item for group in itertools.zip_longest(*found) for item in group if item is not None]


def run_sync(coroutine):
    """Run `coroutine` to its end from synchronous code; in a thread of its own where this thread
    already runs an event loop (a notebook; Playwright's sync API in a test session)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="gather-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def gather(store, request: GatherRequest, job_id: int, progress: Progress | None = None,
           cancelled: Callable[[], bool] | None = None, limits: Limits | None = None) -> GatherSummary:
    """Run `request` into the store's project as job `job_id`; safe to repeat or interrupt."""
    check_request(request)
    store.record_gather_queries(job_id, request.provider, [(q.label, q.query) for q in request.queries],
                                request.per_query)
    run = Gathering(store, request, job_id, progress or (lambda *a: None), cancelled or (lambda: False),
                    limits or Limits())
    return run_sync(run.run())


def request_from_params(params) -> GatherRequest:
    """The request of the "gather" operation's params: each --query with the --label at its place."""
    if len(params.query) != len(params.label):
        raise GatherError(f"Give one --label for each --query: {len(params.query)} queries and "
                          f"{len(params.label)} labels.")
    specs = tuple(QuerySpec(label.strip(), query.strip()) for label, query in zip(params.label, params.query))
    return GatherRequest(params.provider, specs, params.max)


def check_params(params) -> None:
    """Refuse, before a job starts, a request that cannot run (no key, no query, too many images)."""
    try:
        check_request(request_from_params(params))
    except ProviderError as exc:
        raise GatherError(str(exc)) from None


def run_gather(ctx) -> tuple[str, bool]:
    """The "gather" job (curation.jobs.kinds). A run whose every search failed fails with the
    provider's sentence: nothing was gathered, and a script should see it."""
    summary = gather(ctx.store, request_from_params(ctx.params), ctx.job_id, progress=ctx.progress,
                     cancelled=ctx.cancelled)
    searches = ctx.store.gather_progress(ctx.job_id)
    if searches and all(q.error for q in searches):
        raise GatherError(searches[0].error)
    return summary.line(), summary.cancelled


class Gathering:
    """One gather run's state: its summary, the near-duplicate index, and the event-loop work."""

    def __init__(self, store, request: GatherRequest, job_id: int, progress: Progress,
                 cancelled: Callable[[], bool], limits: Limits):
        self.store, self.request, self.job_id = store, request, job_id
        self.progress, self.cancelled, self.limits = progress, cancelled, limits
        self.summary = GatherSummary(queries=len(request.queries))
        self.index: NearDuplicateIndex | None = None
        self.done = 0

    async def run(self) -> GatherSummary:
        async with Downloader(self.limits, Guard.from_env()) as downloader:
            found = await self.search_all(downloader)
            if self.summary.cancelled:
                return self.summary
            hits = interleave(found)
            self.summary.hits = len(hits)
            todo = self.reuse_done(hits)
            self.progress(self.done, len(hits), "Downloading")
            if todo:
                await self.download_all(downloader, todo)
        return self.summary

    async def search_all(self, downloader: Downloader) -> list[list[tuple[QuerySpec, Hit]]]:
        provider = get_provider(self.request.provider)
        found = []
        for position, spec in enumerate(self.request.queries):
            if self.cancelled():
                self.summary.cancelled = True
                break
            self.progress(0, None, f"Searching {provider.title} for '{spec.query}' "
                                   f"({position + 1} of {self.summary.queries})")
            try:
                hits = await search(provider, downloader.client, spec.query, self.request.per_query)
            except ProviderError as exc:
                self.summary.search_errors[spec.query] = str(exc)
                hits = []
            self.store.record_search(self.job_id, position, len(hits), self.summary.search_errors.get(spec.query))
            found.append([(spec, hit) for hit in hits])
        return found

    def reuse_done(self, hits: list[tuple[QuerySpec, Hit]]) -> list[tuple[QuerySpec, Hit]]:
        """Record the hits whose URL an earlier run settled; return the others, to fetch."""
        prior = self.store.prior_downloads(sorted({hit.url for _, hit in hits}))
        reused, todo = [], []
        for spec, hit in hits:
            before = prior.get(hit.url)
            if before is None or (before.status == "failed" and before.reason in TRANSIENT):
                todo.append((spec, hit))
            else:
                reused.append(DownloadRecord(self.job_id, spec.label, hit, before.status, before.reason, before.detail,
                                             before.image_id))
        if reused:
            self.store.record_downloads(reused, [], None)
            self.summary.done_before = len(reused)
            self.summary.count(reused)
            self.done = len(reused)
        return todo

    async def download_all(self, downloader: Downloader, todo: list[tuple[QuerySpec, Hit]]) -> None:
        """Fetch each URL once (later hits of a URL share its outcome), verify, record in chunks."""
        clear_partial_writes(self.store.project)
        self.index = NearDuplicateIndex(*self.store.phash_index())
        leaders: dict[str, tuple[QuerySpec, Hit]] = {}
        followers: defaultdict[str, list[tuple[QuerySpec, Hit]]] = defaultdict(list)
        for spec, hit in todo:
            if hit.url in leaders:
                followers[hit.url].append((spec, hit))
            else:
                leaders[hit.url] = (spec, hit)
        queue: asyncio.Queue = asyncio.Queue()
        for item in leaders.values():
            queue.put_nowait(item)
        results: asyncio.Queue = asyncio.Queue()
        verify_pool = ThreadPoolExecutor(default_workers(), thread_name_prefix="gather-verify")
        workers = [asyncio.create_task(self.worker(downloader, queue, results, verify_pool))
                   for _ in range(min(self.limits.concurrency, len(leaders)))]
        try:
            await self.record_results(results, len(leaders), followers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            verify_pool.shutdown(cancel_futures=True)

    async def worker(self, downloader: Downloader, queue: asyncio.Queue, results: asyncio.Queue, verify_pool) -> None:
        loop = asyncio.get_running_loop()
        while not queue.empty():
            spec, hit = queue.get_nowait()
            try:
                fetched = await downloader.fetch(hit.url)
                outcome = None
                if fetched.status == "ok":
                    task = FileTask(hit.url, spec.label, hit.provenance())
                    outcome = await loop.run_in_executor(verify_pool, outcome_for_bytes, task, fetched.data,
                                                         self.store.project)
                    fetched.data = None
                await results.put((spec, hit, fetched, outcome))
            except Exception as exc:
                await results.put(exc)

    async def record_results(self, results: asyncio.Queue, expected: int, followers) -> None:
        """Record results in chunks as they come; stop early when the job is cancelled."""
        received = 0
        while received < expected:
            batch = [await results.get()]
            while len(batch) < CHUNK and not results.empty():
                batch.append(results.get_nowait())
            received += len(batch)
            if failure := next((item for item in batch if isinstance(item, Exception)), None):
                raise failure
            if await asyncio.to_thread(self.record_batch, batch, followers):
                self.summary.cancelled = True
                return

    def record_batch(self, batch, followers) -> bool:
        """Record one chunk (in a thread: the store blocks); returns whether the job was cancelled."""
        records, outcomes = [], []
        for spec, hit, fetched, outcome in batch:
            record = record_for(self.job_id, spec, hit, fetched, outcome)
            records.append(record)
            records += [replace(record, label=s.label, hit=h, nbytes=None, attempts=0, seconds=0.0)
                        for s, h in followers.get(hit.url, [])]
            if outcome is not None:
                outcomes.append(outcome)
        planner = partial(plan_chunk, outcomes, index=self.index, summary=self.summary.ingest)
        self.store.record_downloads(records, outcomes, planner)
        self.summary.count(records)
        self.done += len(records)
        self.progress(self.done, self.summary.hits, None)
        return self.cancelled()
