"""The downloader: many URLs at once, politely, within limits, and never from a private address.

Asynchronous (one httpx.AsyncClient): a bounded number of requests in flight overall and per host,
connect, read and total timeouts, retries with exponential backoff on 429 and 5xx that honour
Retry-After, a byte limit enforced while the body streams (a lying or absent Content-Length does
not matter), and redirects followed by hand up to a limit so that each hop is a new request
through the SSRF guard. Whether the bytes are an image is decided later, from the bytes
(`curation.verify`), never from the Content-Type.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, OrderedDict, defaultdict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from .. import __version__
from ..verify import reason_title as verify_reason_title
from .guard import Guard, GuardedTransport, Refused

USER_AGENT = f"CurationStudio/{__version__} (image dataset curation; python-httpx)"

REASONS = {
    "not_found": "Not found (HTTP 404 or 410)",
    "http_error": "Refused by the server (HTTP error)",
    "server_error": "Server error (HTTP 5xx), after retries",
    "rate_limited": "Rate-limited (HTTP 429), after retries",
    "timeout": "Timed out",
    "connection_failed": "Could not connect",
    "tls_error": "Its HTTPS certificate or handshake failed",
    "too_many_redirects": "Too many redirects",
    "too_large": "Larger than the download limit",
    "bad_url": "Not an http(s) URL",
    "private_address": "Private or loopback address (refused)",
}
# Failures worth another try on a later run; the others would fail the same way again.
TRANSIENT = frozenset({"timeout", "server_error", "rate_limited", "connection_failed"})


def reason_title(reason: str | None) -> str:
    return REASONS.get(reason or "") or verify_reason_title(reason)


@dataclass(frozen=True)
class Limits:
    """How hard and how long the downloader tries. Times in seconds; `total_timeout` bounds one
    try (redirects and body included); a try that may pass later is retried `retries` times after
    `backoff`, doubling, or after the server's Retry-After when that is at most `max_wait`."""

    concurrency: int = 32
    per_host: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 25 * 2**20
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0
    max_pools: int = 64


@dataclass
class Fetched:
    """What fetching one URL came to: the bytes (`ok`), or why not (`failed`, `refused`)."""

    url: str
    status: str
    data: bytes | None = None
    reason: str | None = None
    detail: str | None = None
    attempts: int = 0
    seconds: float = 0.0


def failed(url: str, reason: str, detail: str) -> Fetched:
    return Fetched(url, "failed", reason=reason, detail=detail)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def tls_failure(exc: BaseException | None) -> ssl.SSLError | None:
    """The TLS error behind a transport error (httpx and httpcore wrap it), if there is one."""
    while exc is not None:
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def guarded_client(guard: Guard, limits: Limits, connections: int, ssl_context: ssl.SSLContext) -> httpx.AsyncClient:
    timeout = httpx.Timeout(connect=limits.connect_timeout, read=limits.read_timeout,
                            write=limits.read_timeout, pool=limits.total_timeout)
    return httpx.AsyncClient(transport=GuardedTransport(guard, connections, ssl_context), timeout=timeout,
                             headers={"User-Agent": USER_AGENT}, follow_redirects=False, trust_env=False)


def host_key(url: httpx.URL) -> str:
    """What politeness counts as one host: name and port (two ports of one machine are two servers)."""
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


async def read_limited(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `limit` bytes (declared or streamed)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class Downloader:
    """Fetches URLs within `limits`; use as `async with Downloader(limits, guard) as downloader`.

    Each host gets a client (a connection pool) of its own, as big as the per-host limit: httpcore
    scans its whole pool for every request it queues, which made one pool of many connections
    cost more CPU than the downloads. At most `max_pools` stay open (the least recently used idle
    one is closed first), so a gather over thousands of hosts does not run out of file handles.
    `client` is a general one, for the providers' searches.
    """

    def __init__(self, limits: Limits | None = None, guard: Guard | None = None,
                 ssl_context: ssl.SSLContext | None = None):
        """`ssl_context` trusts other certificate authorities than the public ones (tests, an intranet)."""
        self.limits = limits or Limits()
        self.guard = guard or Guard.from_env()
        self._ssl = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.limits.per_host))
        self._slots = asyncio.Semaphore(self.limits.concurrency)
        self._busy: Counter[str] = Counter()
        self._pools: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Downloader:
        self.client = self._new_client()
        return self

    async def __aexit__(self, *exc) -> None:
        for client in [self.client, *self._pools.values()]:
            await client.aclose()

    def _new_client(self) -> httpx.AsyncClient:
        return guarded_client(self.guard, self.limits, self.limits.per_host, self._ssl)

    async def _pool_for(self, host: str) -> httpx.AsyncClient:
        if host not in self._pools:
            for idle in [h for h in self._pools if not self._busy[h]][: len(self._pools) - self.limits.max_pools + 1]:
                await self._pools.pop(idle).aclose()
            self._pools[host] = self._new_client()
        self._pools.move_to_end(host)
        return self._pools[host]

    @asynccontextmanager
    async def _get(self, target: httpx.URL):
        """A streamed GET of `target`, within its host's limit and the overall one, on its host's pool."""
        host = host_key(target)
        async with self._hosts[host], self._slots:
            self._busy[host] += 1
            try:
                async with (await self._pool_for(host)).stream("GET", target) as response:
                    yield response
            finally:
                self._busy[host] -= 1

    async def fetch(self, url: str) -> Fetched:
        """Fetch `url`, retrying what may pass on a later try; never raises for a bad URL or server."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            fetched, wait = await self._attempt(url, attempt)
            if wait is None or attempt > self.limits.retries:
                break
            await asyncio.sleep(wait)
        fetched.attempts, fetched.seconds = attempt, time.monotonic() - started
        return fetched

    def _backoff(self, attempt: int) -> float:
        return self.limits.backoff * 2 ** (attempt - 1)

    async def _attempt(self, url: str, attempt: int) -> tuple[Fetched, float | None]:
        """One try: the outcome, and how long to wait before the next try (None: do not retry)."""
        limits = self.limits
        try:
            async with asyncio.timeout(limits.total_timeout):
                return await self._follow(url, attempt)
        except Refused as exc:
            return Fetched(url, "refused", reason="private_address", detail=str(exc)), None
        except httpx.ConnectTimeout:
            return failed(url, "timeout", f"No connection within {limits.connect_timeout:g} s."), None
        except httpx.TimeoutException:
            return failed(url, "timeout", f"The server sent nothing for {limits.read_timeout:g} s."), None
        except TimeoutError:
            return failed(url, "timeout", f"Not complete within {limits.total_timeout:g} s."), None
        except httpx.InvalidURL as exc:
            return failed(url, "bad_url", f"Not a usable URL ({exc})."), None
        except httpx.TransportError as exc:
            if tls := tls_failure(exc):
                return failed(url, "tls_error", f"{type(tls).__name__}: {getattr(tls, 'verify_message', None) or tls}"), None
            return failed(url, "connection_failed", f"{type(exc).__name__}: {exc}".rstrip(": ")), self._backoff(attempt)

    async def _follow(self, url: str, attempt: int) -> tuple[Fetched, float | None]:
        target = httpx.URL(url)
        for _ in range(self.limits.max_redirects + 1):
            if target.scheme not in ("http", "https") or not target.host:
                return failed(url, "bad_url", f"{target} is not an http(s) URL."), None
            async with self._get(target) as response:
                if not response.is_redirect:
                    return await self._answer(url, response, attempt)
                target = response.url.join(response.headers["location"])
        detail = f"More than {self.limits.max_redirects} redirects (the last to {target})."
        return failed(url, "too_many_redirects", detail), None

    async def _answer(self, url: str, response: httpx.Response, attempt: int) -> tuple[Fetched, float | None]:
        code = response.status_code
        if code == 429 or code >= 500:
            return self._retryable(url, response, attempt)
        if not 200 <= code < 300:
            reason = "not_found" if code in (404, 410) else "http_error"
            return failed(url, reason, f"HTTP {code} {response.reason_phrase}".strip()), None
        data = await read_limited(response, self.limits.max_bytes)
        if data is None:
            return failed(url, "too_large", f"Over the {self.limits.max_bytes / 2**20:g} MB download limit."), None
        return Fetched(url, "ok", data=data), None

    def _retryable(self, url: str, response: httpx.Response, attempt: int) -> tuple[Fetched, float | None]:
        code = response.status_code
        reason = "rate_limited" if code == 429 else "server_error"
        detail = f"HTTP {code} {response.reason_phrase}".strip()
        asked = retry_after(response.headers.get("retry-after"))
        if asked is not None and asked > self.limits.max_wait:
            detail += f"; asked to wait {asked:.0f} s, over the {self.limits.max_wait:g} s we wait."
            return failed(url, reason, detail), None
        wait = self._backoff(attempt) if asked is None else asked
        return failed(url, reason, f"{detail} on each of {attempt} tries."), wait
